"""A deterministic stratified subset of a benchmark (POVQA's TVQA evaluation set: 5,000 questions stratified
by `show_name`, seed 42), with its allocation stats (for `.stats.json`) and question ids (for `.qids.txt`).

Allocation (Hamilton's largest-remainder method): stratum s of size N_s out of N rows has the quota
q_s = n * N_s / N; it first gets floor(q_s), and the n - sum floor(q_s) rows left over go one each to the
strata with the largest remainders q_s - floor(q_s) (ties: the larger stratum, then the smaller name).
Computed in exact integer arithmetic. So the counts sum to n, every stratum is within one row of its
quota (|take_s - q_s| < 1), and no stratum is asked for more rows than it has. (POVQA rounds each quota
and then hands out leftovers round-robin, which can overshoot n.)

Sampling inside a stratum: rows are ordered by SHA-256 of "<seed>:<stratum>:<question id>" and the first
take_s are chosen. That is a seeded random permutation that does not depend on the input order, on other
strata, or on the Python/numpy version (their generators' streams are not guaranteed across versions).
The chosen rows are returned in their input order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from evqa.errors import DataError

DEFAULT_SEED = 42


@dataclass(frozen=True)
class Subset:
    """rows: the chosen rows, in input order; indices: their positions in the input; qids: their ids (as
    strings, one per `.qids.txt` line); stats: the allocation, JSON-ready (`.stats.json`)."""

    rows: list
    indices: list[int]
    qids: list[str]
    stats: dict


def largest_remainder_allocation(sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """Rows to take per stratum {name: count} for a total of n (module doc); 0 <= count <= size."""
    total = sum(sizes.values())
    if n < 0 or n > total:
        raise ValueError(f"cannot take {n} rows from {total}")
    if total == 0:
        return {}
    take = {name: n * size // total for name, size in sizes.items()}
    remainder = {name: n * size % total for name, size in sizes.items()}  # numerators over `total`
    left = n - sum(take.values())
    order = sorted(sizes, key=lambda name: (-remainder[name], -sizes[name], name))
    for name in order[:left]:
        take[name] += 1
    return take


def _rank_key(seed: int, stratum: str, qid: str) -> bytes:
    return hashlib.sha256(f"{seed}:{stratum}:{qid}".encode()).digest()


def stratified_subset(
    rows: Sequence[Mapping], *, by: str, n: int, seed: int = DEFAULT_SEED, id_key: str = "qid", source=None
) -> Subset:
    """Choose n rows stratified by the field `by` (module doc).

    Args:
        rows: records (e.g. TVQA's JSONL lines as dicts); each needs the fields `by` and `id_key`.
        by: the stratum field (e.g. "show_name").
        n: rows to choose, 0 <= n <= len(rows).
        seed: the sampling seed.
        id_key: the unique question-id field (e.g. "qid").
        source: the file the rows came from, named in errors.
    """
    strata: dict[str, list[int]] = {}
    qids: list[str] = []
    for i, row in enumerate(rows):
        for field in (by, id_key):
            if field not in row or row[field] is None:
                raise DataError("missing field", path=source, entry=f"row {i + 1}", field=field)
        qids.append(str(row[id_key]))
        strata.setdefault(str(row[by]), []).append(i)
    seen: dict[str, int] = {}
    for i, qid in enumerate(qids):
        if qid in seen:
            raise DataError(f"duplicate id (also row {seen[qid] + 1})", path=source, entry=f"row {i + 1}",
                            field=id_key)  # fmt: skip
        seen[qid] = i
    if n > len(rows) or n < 0:
        raise DataError(f"cannot choose {n} rows from {len(rows)}", path=source)
    take = largest_remainder_allocation({name: len(ix) for name, ix in strata.items()}, n)
    chosen: list[int] = []
    for name in sorted(strata):
        ranked = sorted(strata[name], key=lambda i, name=name: _rank_key(seed, name, qids[i]))
        chosen.extend(ranked[: take[name]])
    chosen.sort()
    total = len(rows)
    stats = {
        "by": by,
        "seed": seed,
        "target_n": n,
        "n": len(chosen),
        "total_pool": total,
        "allocation": "largest_remainder",
        "strata": {
            name: {"pool": len(strata[name]), "quota": n * len(strata[name]) / total, "take": take[name]}
            for name in sorted(strata)
        },
    }
    return Subset(rows=[rows[i] for i in chosen], indices=chosen, qids=[qids[i] for i in chosen], stats=stats)


def read_jsonl_rows(path) -> list[dict]:
    """The records of a JSONL data file (blank lines skipped); a line that is not a JSON object raises
    DataError naming the file and line."""
    from evqa.io import read_jsonl_objects

    return [row for _, row in read_jsonl_objects(path, error=DataError)]


def subset_paths(out) -> dict:
    """{'rows': <out>, 'stats': <out stem>.stats.json, 'qids': <out stem>.qids.txt} beside `out`."""
    from pathlib import Path

    out = Path(out)
    stem = out.with_suffix("") if out.suffix == ".jsonl" else out
    return {"rows": out, "stats": stem.with_name(stem.name + ".stats.json"),
            "qids": stem.with_name(stem.name + ".qids.txt")}  # fmt: skip


def write_subset(subset: Subset, out, *, source=None) -> dict:
    """Write the chosen rows (JSONL, input order), `.stats.json` and `.qids.txt` (one id a line) beside
    `out`; each file appears whole or not at all. Returns the paths (`subset_paths`)."""
    import json

    from evqa.io import write_json_atomic, write_text_atomic

    paths = subset_paths(out)
    write_text_atomic(
        paths["rows"], "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in subset.rows)
    )
    write_text_atomic(paths["qids"], "".join(q + "\n" for q in subset.qids))
    write_json_atomic(paths["stats"], {**subset.stats, **({"source": str(source)} if source else {})})
    return paths
