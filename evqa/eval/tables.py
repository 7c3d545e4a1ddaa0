"""Result tables for `evqa report`, as a pure function of rows and column specs: Markdown, LaTeX or CSV.

A row is (run name, {column key: value}) where a value is a number, a (value, ci_low, ci_high) triple, or
missing (None / NaN / key absent). A `Column` names its key, header, direction (higher or lower is better,
or None: not ranked) and digits. Rules, the same in every format:
- Best per column: after rounding to the column's digits (what the reader sees), every row with the best
  rounded value is bold — ties are all bold. Markdown `**v**`, LaTeX `\\textbf{v}`, CSV never bold.
- CIs (`ci=True`): Markdown `v [lo, hi]`, LaTeX `v {\\scriptsize [lo, hi]}`, CSV two more columns
  `<header> low` / `<header> high`. A row without a CI for that column shows the value alone.
- Delta (`delta=<base run>`): the base row keeps its values, every other row shows its signed difference
  to the base (`+1.2`, `-0.3`; POVQA's delta tables); bold still marks the best absolute value. A CI of a
  difference is not the difference of two CIs (that needs the paired test), so `ci` and `delta` do not
  combine.
- Missing values: "–" in Markdown, "--" in LaTeX (its en dash), an empty field in CSV (what spreadsheets and
  pandas read as missing).
- LaTeX escapes \\ { } $ & % # _ ~ ^ in names and headers; the table uses booktabs rules.
- Per-category sub-tables (`format_category_tables`): Markdown repeats the table under a bold category
  line; LaTeX is one tabular with an italic `\\multicolumn` line per category; CSV one table with a leading
  category column. Best values are per category.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

FORMATS = ("md", "latex", "csv")
MISSING = {"md": "–", "latex": "--", "csv": ""}
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}

Value = float | int | tuple[float, float, float] | None
Row = tuple[str, Mapping[str, Value]]


@dataclass(frozen=True)
class Column:
    """key: the value's key in a row; header: shown name (default: the key); better: "higher", "lower" or
    None (never bold, e.g. a parameter count); digits: decimals shown."""

    key: str
    header: str | None = None
    better: Literal["higher", "lower"] | None = "higher"
    digits: int = 1

    def __post_init__(self):
        if self.better not in ("higher", "lower", None):
            raise ValueError(
                f"column {self.key!r}: better must be 'higher', 'lower' or None, not {self.better!r}"
            )
        if self.digits < 0:
            raise ValueError(f"column {self.key!r}: digits must be >= 0")

    @property
    def title(self) -> str:
        return self.key if self.header is None else self.header


@dataclass(frozen=True)
class _Cell:
    value: float | None  # what is displayed (a delta in delta rows)
    absolute: float | None  # what is ranked
    low: float | None
    high: float | None


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped."""
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))


def _escape(text: str, fmt: str) -> str:
    if fmt == "latex":
        return latex_escape(text)
    return str(text).replace("|", r"\|") if fmt == "md" else str(text)


def _number(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _split(value: Value) -> tuple[float | None, float | None, float | None]:
    if isinstance(value, tuple | list):
        if len(value) != 3:
            raise ValueError(f"a CI value must be (value, low, high), got {value!r}")
        return _number(value[0]), _number(value[1]), _number(value[2])
    return _number(value), None, None


def _cells(rows: Sequence[Row], columns: Sequence[Column], delta: str | None) -> list[list[_Cell]]:
    names = [name for name, _ in rows]
    if delta is not None and delta not in names:
        raise ValueError(f"delta base {delta!r} is not one of the rows: {', '.join(names)}")
    base = dict(rows[names.index(delta)][1]) if delta is not None else {}
    table = []
    for name, values in rows:
        line = []
        for col in columns:
            v, lo, hi = _split(values.get(col.key))
            shown = v
            if delta is not None and name != delta:
                b = _split(base.get(col.key))[0]
                shown = None if v is None or b is None else v - b
                lo = hi = None
            line.append(_Cell(shown, v, lo, hi))
        table.append(line)
    return table


def _best(table: list[list[_Cell]], columns: Sequence[Column]) -> list[set[int]]:
    """Row indices holding each column's best rounded value."""
    best = []
    for j, col in enumerate(columns):
        vals = {
            i: round(row[j].absolute, col.digits)
            for i, row in enumerate(table)
            if row[j].absolute is not None
        }
        if col.better is None or not vals:
            best.append(set())
            continue
        target = max(vals.values()) if col.better == "higher" else min(vals.values())
        best.append({i for i, v in vals.items() if v == target})
    return best


def _fmt(x: float, digits: int, signed: bool) -> str:
    text = f"{x:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")  # no "-0.0"
    return "+" + text if signed and not text.startswith("-") else text


def _render_cell(cell: _Cell, col: Column, fmt: str, bold: bool, ci: bool, signed: bool) -> str:
    if cell.value is None:
        return MISSING[fmt]
    text = _fmt(cell.value, col.digits, signed)
    if bold and fmt == "md":
        text = f"**{text}**"
    elif bold and fmt == "latex":
        text = rf"\textbf{{{text}}}"
    if ci and fmt != "csv" and cell.low is not None and cell.high is not None:
        interval = f"[{cell.low:.{col.digits}f}, {cell.high:.{col.digits}f}]"
        text += f" {interval}" if fmt == "md" else rf" {{\scriptsize {interval}}}"
    return text


def _body(rows, columns, fmt, ci, delta) -> list[list[str]]:
    """Rendered cells (name first) for md / latex; for csv the CI columns are separate cells."""
    table = _cells(rows, columns, delta)
    best = _best(table, columns)
    out = []
    for i, ((name, _), line) in enumerate(zip(rows, table, strict=True)):
        signed = delta is not None and name != delta
        cells = [_escape(name, fmt)]
        for j, (cell, col) in enumerate(zip(line, columns, strict=True)):
            cells.append(_render_cell(cell, col, fmt, i in best[j], ci, signed))
            if ci and fmt == "csv":
                for bound in (cell.low, cell.high):
                    cells.append(MISSING["csv"] if bound is None else f"{bound:.{col.digits}f}")
        out.append(cells)
    return out


def _headers(columns, fmt, ci, name_header) -> list[str]:
    heads = [_escape(name_header, fmt)]
    for col in columns:
        heads.append(_escape(col.title, fmt))
        if ci and fmt == "csv":
            heads += [f"{col.title} low", f"{col.title} high"]
    return heads


def _markdown(headers: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(r[j]) for r in [headers, *body]) for j in range(len(headers))]
    widths = [max(w, 3) for w in widths]

    def line(cells):
        padded = [cells[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join([":" + "-" * (widths[0] - 1)] + ["-" * (w - 1) + ":" for w in widths[1:]]) + " |"
    return [line(headers), rule, *(line(r) for r in body)]


def _latex_rows(cells: list[list[str]]) -> list[str]:
    return [" & ".join(r) + r" \\" for r in cells]


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()


def _check(fmt: str, ci: bool, delta: str | None) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r} (choose from {', '.join(FORMATS)})")
    if ci and delta is not None:
        raise ValueError("CIs and a delta table do not combine: the CI of a difference needs the paired test")


def format_table(
    rows: Sequence[Row],
    columns: Sequence[Column],
    fmt: str = "md",
    *,
    ci: bool = False,
    delta: str | None = None,
    name_header: str = "Run",
) -> str:
    """One table, one line per row (module doc). Returns the text, ending with a newline."""
    _check(fmt, ci, delta)
    headers = _headers(columns, fmt, ci, name_header)
    body = _body(rows, columns, fmt, ci, delta)
    if fmt == "csv":
        return _csv([headers, *body])
    if fmt == "md":
        return "\n".join(_markdown(headers, body)) + "\n"
    spec = "l" + "r" * len(columns)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", *_latex_rows([headers]), r"\midrule"]
    lines += [*_latex_rows(body), r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def format_category_tables(
    tables: Mapping[str, Sequence[Row]],
    columns: Sequence[Column],
    fmt: str = "md",
    *,
    ci: bool = False,
    delta: str | None = None,
    name_header: str = "Run",
    category_header: str = "Category",
) -> str:
    """One sub-table per category ({category: rows}, in the mapping's order), best values per category."""
    _check(fmt, ci, delta)
    if fmt == "md":
        parts = [f"**{name}**\n\n" + format_table(rows, columns, "md", ci=ci, delta=delta, name_header=name_header)
                 for name, rows in tables.items()]  # fmt: skip
        return "\n".join(parts)
    if fmt == "csv":
        headers = [category_header, *_headers(columns, "csv", ci, name_header)]
        body = [
            [name, *cells]
            for name, rows in tables.items()
            for cells in _body(rows, columns, "csv", ci, delta)
        ]
        return _csv([headers, *body])
    width = len(columns) + 1
    lines = [rf"\begin{{tabular}}{{l{'r' * len(columns)}}}", r"\toprule"]
    lines += [*_latex_rows([_headers(columns, "latex", ci, name_header)]), r"\midrule"]
    for k, (name, rows) in enumerate(tables.items()):
        if k:
            lines.append(r"\midrule")
        lines.append(rf"\multicolumn{{{width}}}{{l}}{{\textit{{{latex_escape(name)}}}}} \\")
        lines += _latex_rows(_body(rows, columns, "latex", ci, delta))
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
