"""Plain-text result tables: the `Acc | mIoU | mIoP | t-mean | J | F | J&F` row and a comparison table."""

from __future__ import annotations

COLUMNS = ("Acc", "mIoU", "mIoP", "t-mean", "J", "F", "J&F")


def _row_values(results: dict) -> list[str]:
    qa, tm, mm = (
        results.get("qa_metrics", {}),
        results.get("temporal_metrics", {}),
        results.get("mask_metrics"),
    )
    values = [qa.get("accuracy"), tm.get("mIoU"), tm.get("mIoP"), tm.get("t_mean")]
    values += [mm.get("J"), mm.get("F"), mm.get("J&F")] if mm else [None, None, None]
    return ["-" if v is None else f"{v:.1f}" for v in values]


def _table(rows: list[tuple[str, list[str]]]) -> str:
    name_width = max(12, *(len(name) for name, _ in rows))
    header = f"{'':<{name_width}} " + " ".join(f"{c:>7}" for c in COLUMNS)
    lines = [header, "-" * len(header)]
    lines += [f"{name:<{name_width}} " + " ".join(f"{v:>7}" for v in values) for name, values in rows]
    return "\n".join(lines)


def threshold_line(results: dict) -> str:
    """'TIoU@0.3: .. | TIoU@0.5: .. | TIoP@0.3: .. | TIoP@0.5: ..' (percent, one decimal)."""
    tm = results.get("temporal_metrics", {})
    keys = ("TIoU@0.3", "TIoU@0.5", "TIoP@0.3", "TIoP@0.5")
    return "  |  ".join(f"{k}: {tm.get(k, 0.0):.1f}%" for k in keys)


def format_table(results: dict, name: str | None = None) -> str:
    """The results table of one run (percentages, one decimal; '-' where not computed), the threshold
    line and, for the evqa protocol, the non-zero skip counts."""
    label = name or f"Score ({results.get('protocol', 'evqa')})"
    lines = [_table([(label, _row_values(results))]), threshold_line(results)]
    skipped = {k: v for k, v in results.get("skipped", {}).items() if v}
    if skipped:
        lines.append("skipped: " + ", ".join(f"{k}={v}" for k, v in skipped.items()))
    errors = results.get("format_errors", {})
    if errors.get("total"):
        kinds = ", ".join(f"{k}={v}" for k, v in errors.items() if k not in ("total", "entries") and v)
        lines.append(f"format errors: {errors['total']} ({kinds})")
    mask_errors = (results.get("mask_metrics") or {}).get("mask_errors") or {}
    if mask_errors:
        lines.append(f"mask errors: {len(mask_errors)} ({', '.join(sorted(mask_errors)[:10])})")
    return "\n".join(lines)


def format_comparison(rows: dict[str, dict]) -> str:
    """One table row per named results dict (e.g. several models or both protocols)."""
    return _table([(name, _row_values(results)) for name, results in rows.items()])
