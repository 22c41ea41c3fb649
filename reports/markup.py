"""HTML and SVG built from Python calls that escape by default.

A report shows text that comes from other people's code (target names, versions, error
messages), so every string passes through ``html.escape(s, quote=True)`` unless it is ``Markup``
that this package built itself. ``element`` returns ``Markup``; a plain ``str`` child or any
attribute value is escaped, wherever it lands (element text, SVG ``<text>``, ``<title>``,
attributes). Only ``raw`` marks a string as markup, and only for the package's own constants.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

__all__ = ["Markup", "element", "escape", "join", "raw"]


class Markup(str):
    """A string that is already HTML: element() inserts it as is."""


def escape(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def raw(text: str) -> Markup:
    """Trusted markup: the package's own constants (the style sheet), never document text."""
    return Markup(text)


def join(children: Iterable[object]) -> Markup:
    """Children concatenated; None is dropped, strings are escaped, iterables flattened."""
    parts: list[str] = []
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, str | int | float):
            parts.append(escape(child))
        else:
            parts.append(join(child))
    return Markup("".join(parts))


def _attribute_name(name: str) -> str:
    # class_ -> class, aria_label -> aria-label, stroke_width -> stroke-width; viewBox stays.
    return name.rstrip("_").replace("_", "-")


# Void elements of HTML (no end tag); SVG shapes are written self-closed, which HTML5 accepts
# inside <svg> (foreign content).
_VOID = {"meta", "br", "hr", "img", "link", "input", "col", "wbr"}
_SVG_EMPTY = {"line", "polyline", "rect", "circle", "path", "polygon"}


def element(tag: str, *children: object, **attributes: object) -> Markup:
    """``element("td", name, class_="num")`` -> ``<td class="num">name, escaped</td>``.
    An attribute whose value is None or False is left out; True writes the bare name."""
    attrs = []
    for name, value in attributes.items():
        if value is None or value is False:
            continue
        if value is True:
            attrs.append(f" {_attribute_name(name)}")
        else:
            attrs.append(f' {_attribute_name(name)}="{escape(value)}"')
    opening = f"<{tag}{''.join(attrs)}"
    if tag in _VOID:
        return Markup(opening + ">")
    if tag in _SVG_EMPTY and not children:
        return Markup(opening + "/>")
    return Markup(f"{opening}>{join(children)}</{tag}>")
