"""The page's building blocks: tables, name–value tables and captioned figures.

Every string that reaches them is escaped by ``nnconform.reports.markup.element``; a ``Markup``
cell is a whole cell the caller built (a ``<td>`` or a ``<th>``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nnconform.reports.markup import Markup, element

__all__ = ["facts", "figure", "table"]


def table(
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    numeric: set[int],
    classes: Sequence[str | None] = (),
    css: str | None = None,
) -> Markup:
    """A table; cells of the ``numeric`` columns right-aligned, row i of class ``classes[i]``.
    A Markup cell is a whole ``<td>`` (or ``<th>``) built by the caller; a Markup header is a
    whole ``<th>``; anything else is escaped into one."""
    head = element(
        "tr",
        *(
            h if isinstance(h, Markup) else element("th", h, class_="num" if i in numeric else None)
            for i, h in enumerate(header)
        ),
    )
    body = []
    for index, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, Markup):
                cells.append(cell)
            else:
                cells.append(element("td", cell, class_="num" if i in numeric else None))
        body.append(element("tr", *cells, class_=classes[index] if classes else None))
    out = element("table", element("thead", head), element("tbody", *body), class_=css)
    return element("div", out, class_="wide")  # a wide table scrolls, not the page


def facts(pairs: Iterable[tuple[str, object]], css: str = "facts") -> Markup:
    """A two-column table of names and values, the names as row headers."""
    rows = [element("tr", element("th", k, scope="row"), element("td", v)) for k, v in pairs]
    return element("table", element("tbody", *rows), class_=css)


def figure(plot: Markup, *caption: object) -> Markup:
    """A chart with its caption beneath: what the chart shows, and what it does not claim."""
    captioned = element("figcaption", *caption) if any(caption) else None
    return element("figure", plot, captioned, class_="chart")
