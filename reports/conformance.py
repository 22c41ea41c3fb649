"""The conformance section: one check document's verdicts, or a matrix comparing several.

One document (``nnconform check --json``) gives its verdict table: a row per catalogue id it
checked, with the counts of each status and the variants matched, then its failures.

Several documents (``nnconform report --check a.json --check b.json ...``: one per framework,
device or machine, e.g. the CPU and GPU jobs of a CI matrix) give one matrix: the catalogue's
ids grouped by family (``nnconform.reference.registry``, the catalogue as data), one column per
document, labelled with what the document says of itself (target name and version, device,
profile and Hypothesis seed, and its machine when it records one). A cell is the verdict:
pass, the name of the variant matched, fail (a link to its failure on the page), unsupported,
or "not checked" where the document has no verdict for the id (a run selected with -k). Any
other verdict string (xfail, xpass, one a later nnconform adds) is shown as it is. Nothing
depends on which framework a document checked: every column is drawn the same way.

Coverage is the number of catalogue ids with a verdict other than unsupported, out of the
catalogue's; an id the document did not check does not count.

The worst error and tolerance shown under a failure are those its message states (the
message describes the shrunk counterexample); the record's own maxima are over every example
Hypothesis tried, and would not match the message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from nnconform import units
from nnconform.reference.registry import FAMILIES, REGISTRY
from nnconform.reports.layout import facts, table
from nnconform.reports.machines import machine_name
from nnconform.reports.markup import Markup, element
from nnconform.reports.svg import Axis, Bar, bar_chart

__all__ = [
    "FAILED",
    "VERDICTS",
    "check_label",
    "check_title",
    "compared",
    "coverage",
    "message_numbers",
    "single",
    "verdict_class",
]

VERDICTS = ("pass", "variant", "fail", "unsupported", "error", "xfail", "xpass")  # CSS classes
FAILED = ("fail", "error", "xpass")  # records with a failure to show
NOT_CHECKED = "not checked"
OTHER_FAMILY = "not in this catalogue"

# The numbers a failure message states (nnconform.checks.assertions writes them so).
_NUMBERS = re.compile(
    r"max abs err [^\s,]+, max rel err [^\s,]+, tolerance rtol=[^\s,]+, atol=[^\s,);]+"
)


def verdict_class(verdict: str) -> str:
    return f"verdict verdict-{verdict if verdict in VERDICTS else 'other'}"


def message_numbers(message: str | None) -> list[str]:
    """The worst error and tolerance as the message states them, each once, in order."""
    return list(dict.fromkeys(_NUMBERS.findall(message or "")))


def _flat(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return units.MISSING if value is None else str(value)


def check_label(check: dict[str, Any]) -> list[str]:
    """What a document says of itself, a line each: target and version, device, profile and
    seed, machine (when the document records one)."""
    target = check.get("target") or {}
    name = target.get("name") or "unnamed target"
    lines = [f"{name} {target.get('version') or 'version unknown'}"]
    if target.get("device"):
        lines.append(f"on {target['device']}")
    if target.get("dtypes"):
        lines.append(_flat(target["dtypes"]))
    run = [f"profile {check['profile']}" if check.get("profile") else None]
    if check.get("hypothesis_seed") is not None:
        run.append(f"seed {check['hypothesis_seed']}")
    if any(run):
        lines.append(", ".join(r for r in run if r))
    if check.get("machine"):
        lines.append(f"machine: {machine_name(check['machine'])}")
    return lines


def check_title(check: dict[str, Any]) -> str:
    """One line: 'torch 2.13.0 on cpu'."""
    lines = check_label(check)
    return " ".join(lines[:2]) if len(lines) > 1 and lines[1].startswith("on ") else lines[0]


# ---------------------------------------------------------------------------------------------
# Failures


def _failures(check: dict[str, Any], prefix: str) -> tuple[list[Markup], dict[str, str]]:
    """The failure details of a document, each with an id (``prefix``-n), and the id of the
    first failure of each algorithm."""
    details, first = [], {}
    failed = [r for r in check["records"] if r["status"] in FAILED]
    for n, r in enumerate(failed, 1):
        anchor = f"{prefix}-{n}"
        first.setdefault(r["algorithm"], anchor)
        numbers = message_numbers(r.get("message"))
        footer = [
            "as the message states: " + "; ".join(numbers) if numbers else None,
            "the call timed out" if r.get("timed_out") else None,
            r.get("nodeid") or None,
        ]
        details.append(
            element(
                "details",
                element(
                    "summary",
                    f"{r['algorithm']} :: {r['property']} ",
                    element("span", f"({r['status']})", class_="failure-status"),
                ),
                element("pre", r.get("message") or "(no message)"),
                element("p", "; ".join(f for f in footer if f), class_="muted")
                if any(footer)
                else None,
                class_="failure",
                id=anchor,
            )
        )
    return details, first


# ---------------------------------------------------------------------------------------------
# One document


def single(check: dict[str, Any]) -> list[Markup]:
    """The verdict table of one document and its failures."""
    target = check.get("target", {})
    about = [
        ("target", target.get("name")),
        ("version", target.get("version") or "version unknown"),
        ("device", target.get("device")),
        ("dtypes", ", ".join(map(str, target.get("dtypes") or [])) or None),
        ("profile", check.get("profile")),
        ("Hypothesis seed", check.get("hypothesis_seed")),
        ("strict", check.get("strict")),
        ("exit status", check.get("exit_status")),
        ("machine", machine_name(check["machine"]) if check.get("machine") else None),
    ]
    summary = check["summary"]
    extra = [k for k in ("xfail", "xpass") if any(row.get(k) for row in summary)]
    counted = [k for k in VERDICTS if k not in ("xfail", "xpass")] + extra
    header = ["algorithm", "verdict", *counted, "variants matched"]
    rows = []
    for row in summary:
        counts = [
            element(
                "td",
                row.get(k, 0),
                class_="num bad" if k in FAILED and row.get(k, 0) else "num",
            )
            for k in counted
        ]
        variants = ", ".join(map(str, row.get("variants") or [])) or units.MISSING
        cell = element("td", row["verdict"], class_=verdict_class(row["verdict"]))
        rows.append([row["algorithm"], cell, *counts, variants])
    tally = list(dict.fromkeys(row["verdict"] for row in summary))
    totals = ", ".join(f"{sum(r['verdict'] == v for r in summary)} {v}" for v in tally)
    failures, _ = _failures(check, "failure-1")
    return [
        facts((k, _flat(v)) for k, v in about if v is not None),
        element("p", f"{len(summary)} catalogue ids: {totals}." if summary else "No checks ran."),
        table(header, rows, set(), css="matrix"),
        element("h3", f"Failures ({len(failures)})"),
        failures or element("p", "None.", class_="muted"),
    ]


# ---------------------------------------------------------------------------------------------
# Several documents


def _catalogue(checks: Sequence[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(family, ids) in the catalogue's order; ids the documents name that the catalogue does
    not (a newer catalogue, a user's own) come last, in their own group."""
    groups = [(f, [e.id for e in REGISTRY.values() if e.family == f]) for f in FAMILIES]
    known = set(REGISTRY)
    others = list(
        dict.fromkeys(
            row["algorithm"]
            for check in checks
            for row in check["summary"]
            if row["algorithm"] not in known
        )
    )
    return [g for g in groups if g[1]] + ([(OTHER_FAMILY, others)] if others else [])


def _cell(row: dict[str, Any] | None, records: list[dict[str, Any]], link: str | None) -> Markup:
    if row is None:
        return element("td", NOT_CHECKED, class_="verdict verdict-none")
    verdict = row["verdict"]
    title = None
    text: object = verdict
    if verdict == "variant":
        text = ", ".join(map(str, row.get("variants") or [])) or verdict
        default = row.get("default_variant")
        title = f"matches the documented variant {text}" + (
            f"; the catalogue's default is {default}" if default else ""
        )
    elif verdict == "unsupported":
        reasons = [r.get("unsupported_reason") for r in records if r.get("unsupported_reason")]
        title = reasons[0] if reasons else None
    if row.get("consistent") is False:
        title = "; ".join(t for t in (title, "the checks of this id disagree") if t)
    if link is not None:
        text = element("a", text, href=f"#{link}")
    return element("td", text, class_=verdict_class(verdict), title=title)


def _column_head(check: dict[str, Any], machine: str | None) -> Markup:
    lines: list[object] = []
    for i, line in enumerate(check_label(check)):
        if machine is not None and line.startswith("machine: "):
            line = element("a", line, href=f"#{machine}")
        lines += [element("br") if i else None, line]
    return element("th", *lines, scope="col", class_="target")


def _distinct_labels(checks: Sequence[dict[str, Any]]) -> list[str]:
    """One line per document that tells it apart from the others: its title, or its whole
    label where two titles agree (one target run twice), numbered where even those agree."""
    titles = [check_title(c) for c in checks]
    if len(set(titles)) == len(titles):
        return titles
    full = [", ".join(check_label(c)) for c in checks]
    if len(set(full)) == len(full):
        return full
    return [f"{line} (document {k})" for k, line in enumerate(full, 1)]


def coverage(check: dict[str, Any]) -> tuple[int, int]:
    """(catalogue ids with a verdict other than unsupported, catalogue ids)."""
    covered = {
        row["algorithm"]
        for row in check["summary"]
        if row["verdict"] != "unsupported" and row["algorithm"] in REGISTRY
    }
    return len(covered), len(REGISTRY)


def compared(checks: Sequence[dict[str, Any]], machines: Sequence[str | None]) -> list[Markup]:
    """The coverage of each document and the matrix of verdicts, then each one's failures.
    ``machines[i]`` is the anchor of document i's machine table, if it has one."""
    labels = _distinct_labels(checks)
    catalogue = _catalogue(checks)
    ids = [i for _, group in catalogue for i in group]
    rows = [{row["algorithm"]: row for row in c["summary"]} for c in checks]
    records = [{i: [r for r in c["records"] if r["algorithm"] == i] for i in ids} for c in checks]
    failures = [_failures(c, f"failure-{k}") for k, c in enumerate(checks, 1)]

    # coverage
    seen = [row["verdict"] for r in rows for row in r.values()]
    verdicts = [v for v in VERDICTS if v in seen]
    verdicts += [v for v in dict.fromkeys(seen) if v not in VERDICTS]  # as they are
    header = ["target", "coverage", *verdicts, NOT_CHECKED]
    body, bars = [], []
    for k, check in enumerate(checks):
        covered, total = coverage(check)
        share = f"{covered} of {total}"
        percent = units.percent(covered / total)
        tally = [sum(row["verdict"] == v for row in rows[k].values()) for v in verdicts]
        missing = sum(i not in rows[k] for i in ids)
        body.append([labels[k], f"{share} catalogue ids ({percent})", *tally, missing])
        bars.append(Bar(labels[k], covered / total, f"{share} ({percent})"))
    numeric = set(range(2, len(header)))
    chart = bar_chart(
        bars,
        title="Coverage: catalogue ids with a verdict other than unsupported",
        axis=Axis("share of the catalogue's ids", 10, lambda t: units.percent(t, trim=True)),
        x_max=1.0,
    )

    # the matrix
    width = len(checks) + 1
    head = [
        element("th", "catalogue id", scope="col"),
        *(_column_head(c, machines[k]) for k, c in enumerate(checks)),
    ]
    groups = []
    for family, group in catalogue:
        lines = [
            element("tr", element("th", family, colspan=width, scope="colgroup"), class_="family")
        ]
        for i in group:
            cells = [
                _cell(rows[k].get(i), records[k][i], failures[k][1].get(i))
                for k in range(len(checks))
            ]
            lines.append(element("tr", element("th", i, scope="row"), *cells))
        groups.append(element("tbody", *lines))
    matrix = element(
        "div",
        element("table", element("thead", element("tr", *head)), *groups, class_="matrix"),
        class_="wide",
    )

    failure_lists = []
    for k, (details, _) in enumerate(failures):
        failure_lists += [
            element("h3", f"Failures of {labels[k]} ({len(details)})"),
            details or element("p", "None.", class_="muted"),
        ]
    return [
        element(
            "p",
            f"{len(checks)} check documents, one column each. A cell is the verdict of that "
            "catalogue id: pass, the variant matched, fail (a link to the failure below), "
            "unsupported, or not checked (the document has no verdict for it). Coverage counts "
            "the ids with a verdict other than unsupported, out of the catalogue's "
            f"{len(REGISTRY)}.",
            class_="note",
        ),
        table(header, body, numeric, css="coverage"),
        element("div", chart, class_="plots"),
        matrix,
        *failure_lists,
    ]
