"""`evqa compare A.json B.json`: a paired test between two runs scored on the same benchmark entries.

    evqa compare a_eval.json b_eval.json                 # ST-Evidence gen: McNemar on answer correctness
    evqa compare a_eval.json b_eval.json --test bootstrap --metric temporal_iou
    evqa compare a_metrics.json b_metrics.json --metric time_evidence      # ST-Evidence MCQ metrics files
    evqa compare a_eval.json b_eval.json                 # any registered benchmark's results JSON
    evqa compare a.summary.json b.summary.json           # ... or its summary (the results JSON beside it)

The inputs, whatever the benchmark, are files `evqa eval` / `evqa eval-mcq` write:
- ST-Evidence gen results: per-entry scores in `per_sample_scores` (metric: qa_correct, temporal_iou,
  temporal_iop, spatial_j, ...; shown x100);
- ST-Evidence MCQ metrics: the lists of right (`correct_entries`), wrong and unparsable entries per task
  (metric: qa, time_evidence or spatial_evidence); an entry in neither list (failed or missing) is wrong, so
  the two values are the files' accuracies;
- a registered benchmark's results JSON (`per_item`, `benchmark`): metric `correct` (MCQ benchmarks),
  `accuracy` (judged benchmarks: the judge's yes = 1, no = 0, a judge error left out) or any per-entry
  number (`score`, BLEU, ...); shown in the unit of the benchmark's column (x100 for percent);
- quality-scoring results (VQA²: a predicted `score` and the `mos` per entry): metric SRCC (default) or
  PLCC, each dataset's correlation averaged as the headline, compared by the paired bootstrap;
- a summary (`<pred stem>.summary.json`): it holds no per-entry scores, so the results JSON beside it
  (`<pred stem><results_suffix>.json`) is read.
Only the entries with a value in both files are paired. 0/1 values are compared with McNemar's test (exact
binomial below 25 discordant entries, `evqa.metrics.stats`) or the paired bootstrap; other scores with the
paired bootstrap. Prints the two values, the difference, the p-value and the entries where the runs differ.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evqa.errors import ConfigError, InputError
from evqa.io import read_json, write_json_atomic
from evqa.metrics.stats import N_RESAMPLES, SEED, mcnemar_test, paired_bootstrap_test

TESTS = ("auto", "mcnemar", "bootstrap")
MCQ_TASKS = {"qa": "qa", "time_evidence": "temporal", "temporal": "temporal", "spatial_evidence": "spatial",
             "spatial": "spatial"}  # fmt: skip
SUMMARY_SUFFIX = ".summary.json"
# quality-scoring benchmarks (VQA²): per entry a predicted `score` and its reference `mos`, per `dataset`
CORRELATIONS = ("SRCC", "PLCC")
CORRELATION_FIELDS = ("score", "mos")
GROUP_FIELD = "dataset"


def correlation_statistic(kind: str, n_groups: int):
    """The headline of a quality-scoring benchmark as a bootstrap statistic: resamples [B, N, 3] (predicted
    score, reference, group code) -> [B], the mean over the groups of each group's Spearman (SRCC: Pearson
    of the average ranks) or Pearson (PLCC) correlation; NaN where a group has < 2 entries or no spread."""
    from scipy.stats import rankdata

    def statistic(sample: np.ndarray) -> np.ndarray:
        x, y, g = sample[..., 0], sample[..., 1], sample[..., 2]
        per_group = []
        for code in range(n_groups):
            mask = g == code
            if kind == "SRCC":  # ranks among the group's entries (the others rank after them, ignored)
                x_, y_ = (rankdata(np.where(mask, v, np.inf), axis=1) for v in (x, y))
            else:
                x_, y_ = x, y
            w = mask.astype(np.float64)
            count = w.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mx = (x_ * w).sum(axis=1) / count
                my = (y_ * w).sum(axis=1) / count
                dx, dy = (x_ - mx[:, None]) * w, (y_ - my[:, None]) * w
                r = (dx * dy).sum(axis=1) / np.sqrt((dx**2).sum(axis=1) * (dy**2).sum(axis=1))
            per_group.append(np.where(count >= 2, r, np.nan))
        return np.mean(per_group, axis=0)

    return statistic


@dataclass
class RunScores:
    """One file's per-entry values of `metric`: {entry id: value or None (no value)}; `total`: the entries
    scored when the file names only some of them (MCQ: failed and missing calls are wrong but unnamed); the
    scale values are shown at, and the file's own number for the metric where it states one."""

    kind: str
    path: str
    metric: str
    values: dict[str, float | None]
    benchmark: str | None = None
    total: int | None = None
    scale: float = 100.0
    reported: float | None = None
    notes: list[str] = field(default_factory=list)
    vectors: dict[str, list[float | None]] | None = None  # correlations: [predicted, reference, group code]
    groups: list[str] | None = None


def _read(path: str) -> dict:
    data = read_json(path, error=InputError)
    if not isinstance(data, dict):
        raise InputError("expected a JSON object (a results, metrics or summary file)", path=path)
    return data


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and np.isfinite(value):
        return float(value)
    return None


def _gen_scores(path: str, data: dict, metric: str | None) -> RunScores:
    metric = metric or "qa_correct"
    samples = data["per_sample_scores"]
    values = {str(i): _number(s.get(metric)) if isinstance(s, dict) else None for i, s in samples.items()}
    reported = (data.get("qa_metrics") or {}).get("accuracy") if metric == "qa_correct" else None
    return RunScores(
        "st_evidence_gen", path, metric, values, benchmark="st_evidence_gen", reported=_number(reported)
    )


def _is_mcq(data: dict) -> bool:
    return (
        all(isinstance(data.get(k), dict) for k in ("qa", "temporal", "spatial")) and "total_entries" in data
    )


def _mcq_scores(path: str, data: dict, metric: str | None) -> RunScores:
    metric = metric or "qa"
    if metric not in MCQ_TASKS:
        raise ConfigError(f"an MCQ metrics file has the tasks qa, time_evidence and spatial_evidence, not "
                          f"{metric!r}", field="--metric")  # fmt: skip
    block = data[MCQ_TASKS[metric]]
    if block.get("scored") is False:
        raise InputError(
            f"task {metric} was not scored in this file: {block.get('note', 'no GT file')}", path=path
        )
    if "correct_entries" not in block:
        raise InputError(
            "no per-entry lists ('correct_entries'): score it again with `evqa eval-mcq`", path=path
        )
    values: dict[str, float | None] = {}
    for key, value in (("incorrect", 0.0), ("unparsable", 0.0), ("correct_entries", 1.0)):
        values.update({str(i): value for i in block.get(key) or []})
    return RunScores("st_evidence_mcq", path, metric, values, benchmark="st_evidence_mcq",
                     total=int(block.get("total", len(values))), reported=_number(block.get("accuracy")))  # fmt: skip


def _registry_scores(path: str, data: dict, metric: str | None) -> RunScores:
    from evqa.benchmarks.registry import get_benchmark

    name = str(data.get("benchmark"))
    try:
        bench = get_benchmark(name)
    except ConfigError:
        raise InputError(f"results of an unknown benchmark {name!r}", path=path) from None
    items = {str(k): v for k, v in data["per_item"].items() if isinstance(v, dict)}
    judged = bench.needs_judge
    keys = list(dict.fromkeys(k for v in items.values() for k, x in v.items() if _number(x) is not None))
    paired = all(k in keys for k in CORRELATION_FIELDS)  # a predicted score and its reference per entry
    if metric is None:
        first = bench.columns[0].key if bench.columns else None
        metric = "accuracy" if judged else ("correct" if "correct" in keys else (
            first if paired and first in CORRELATIONS else next(
                (c.key for c in bench.columns if c.key in keys), keys[0] if keys else "correct")))  # fmt: skip
    if metric in CORRELATIONS and paired and metric not in keys:
        groups = sorted({str(v.get(GROUP_FIELD)) for v in items.values()})
        vectors = {i: [_number(v.get(CORRELATION_FIELDS[0])), _number(v.get(CORRELATION_FIELDS[1])),
                       float(groups.index(str(v.get(GROUP_FIELD))))] for i, v in items.items()}  # fmt: skip
        return RunScores(name, path, metric, {i: None if None in x else 0.0 for i, x in vectors.items()},
                         benchmark=name, scale=1.0, reported=_number((data.get("metrics") or {}).get(metric)),
                         vectors=vectors, groups=groups)  # fmt: skip
    if judged and metric == "accuracy":
        values = {i: (None if v.get("pred") not in ("yes", "no") else float(v["pred"] == "yes"))
                  for i, v in items.items()}  # fmt: skip
    else:
        if metric not in keys:
            raise ConfigError(f"the {name} results have no per-entry {metric!r}; per-entry numbers: "
                              f"{', '.join(keys) or 'none'}", field="--metric")  # fmt: skip
        values = {i: _number(v.get(metric)) for i, v in items.items()}
    column_key = "accuracy" if metric == "correct" else metric
    column = next((c for c in bench.columns if c.key == column_key), None)
    scale = 100.0 if column is not None and column.unit == "percent" else 1.0
    if column is None and metric == "correct":
        scale = 100.0
    reported = _number((data.get("metrics") or {}).get(column_key))
    return RunScores(name, path, metric, values, benchmark=name, scale=scale, reported=reported)


def _summary_results(path: str, data: dict) -> str:
    from evqa.benchmarks.registry import get_benchmark

    name = Path(path).name
    if not name.endswith(SUMMARY_SUFFIX):
        raise InputError(f"a summary is named <pred stem>{SUMMARY_SUFFIX}", path=path)
    try:
        suffix = get_benchmark(str(data["benchmark"])).results_suffix
    except ConfigError:
        raise InputError(f"summary of an unknown benchmark {data['benchmark']!r}", path=path) from None
    results = Path(path).with_name(name[: -len(SUMMARY_SUFFIX)] + suffix + ".json")
    if not results.is_file():
        raise InputError(f"a summary holds no per-entry scores, and its results JSON {results.name} (written by "
                         "`evqa eval` beside it) is not there: give the results JSON", path=path)  # fmt: skip
    return str(results)


def load_scores(path: str, metric: str | None = None) -> RunScores:
    """The per-entry values of `metric` (None: the file kind's default) in one results / metrics / summary
    file (module doc)."""
    data = _read(path)
    if "per_sample_scores" in data:
        if not isinstance(data["per_sample_scores"], dict) or not data["per_sample_scores"]:
            raise InputError(
                "no per-entry scores ('per_sample_scores'): give a results JSON of `evqa eval`", path=path
            )
        return _gen_scores(path, data, metric)
    if _is_mcq(data):
        return _mcq_scores(path, data, metric)
    if isinstance(data.get("per_item"), dict) and "benchmark" in data:
        return _registry_scores(path, data, metric)
    if "benchmark" in data and "metrics" in data and "columns" in data:
        results = _summary_results(path, data)
        run = load_scores(results, metric)
        run.notes.append(f"{Path(path).name}: per-entry scores from {results}")
        run.path = path
        return run
    raise InputError(
        "no per-entry scores ('per_sample_scores'): give a results JSON of `evqa eval` (per_sample_scores or "
        "per_item), an MCQ metrics file of `evqa eval-mcq`, or a summary with its results JSON beside it",
        path=path,
    )


def compare_files(path_a: str, path_b: str, *, metric: str | None = None, test: str = "auto",
                  n_resamples: int = N_RESAMPLES, seed: int = SEED) -> dict:  # fmt: skip
    """The paired comparison of two results files on the entries both scored (module doc)."""
    if test not in TESTS:
        raise ConfigError(f"unknown test {test!r} (choose from {', '.join(TESTS)})", field="--test")
    ra, rb = load_scores(path_a, metric), load_scores(path_b, metric)
    if ra.benchmark != rb.benchmark:
        raise InputError(f"{path_a} is {ra.benchmark}, {path_b} is {rb.benchmark}: compare runs of one benchmark",
                         path=path_b)  # fmt: skip
    a, b = ra.values, rb.values
    metric = ra.metric
    padding = 0
    if ra.total is not None and rb.total is not None:
        # both files score `total` entries and name some: a named one absent from the other file is wrong
        # there, and the entries neither names (failed or missing in both) are wrong in both
        if ra.total != rb.total:
            raise InputError(f"the two files score {ra.total} and {rb.total} {metric} entries: not the same "
                             "entries", path=path_b)  # fmt: skip
        ids = list(dict.fromkeys([*a, *b]))
        a, b = {i: a.get(i, 0.0) for i in ids}, {i: b.get(i, 0.0) for i in ids}
        padding = ra.total - len(ids)
        if padding < 0:
            raise InputError(f"the two files name more {metric} entries together than each scores: not the "
                             "same entries", path=path_b)  # fmt: skip
    ids = [i for i in a if i in b]
    common = len(ids)
    if not ids:
        raise InputError(f"no entry in common with {path_b}", path=path_a)
    only = sorted(set(a) ^ set(b))
    va, vb = [a[i] for i in ids], [b[i] for i in ids]
    if all(v is None for v in va + vb):
        raise ConfigError(f"no entry has a value for {metric!r}", field="--metric")
    keep = [k for k, (x, y) in enumerate(zip(va, vb, strict=True)) if x is not None and y is not None]
    ids = [ids[k] for k in keep]
    if ra.vectors is not None and rb.vectors is not None:
        if test == "mcnemar":
            raise ConfigError(f"McNemar needs 0/1 values; {metric} is a correlation: use --test bootstrap",
                              field="--test")  # fmt: skip
        return _compare_correlations(ra, rb, ids, only, common - len(keep), n_resamples, seed)
    xa = np.array([float(va[k]) for k in keep] + [0.0] * padding)
    xb = np.array([float(vb[k]) for k in keep] + [0.0] * padding)
    binary = bool(np.all(np.isin(xa, (0, 1))) and np.all(np.isin(xb, (0, 1))))
    if test == "auto":
        test = "mcnemar" if binary else "bootstrap"
    scale = ra.scale
    out = {"a": str(path_a), "b": str(path_b), "benchmark": ra.benchmark, "kind": ra.kind, "metric": metric,
           "n": len(xa), "not_in_both": only, "left_out": common - len(keep),
           "scale": scale, "value_a": scale * float(xa.mean()), "value_b": scale * float(xb.mean()),
           "reported_a": ra.reported, "reported_b": rb.reported, "unnamed": padding,
           "notes": ra.notes + rb.notes}  # fmt: skip
    out["delta"] = out["value_a"] - out["value_b"]
    if test == "mcnemar":
        if not binary:
            raise ConfigError(f"McNemar needs 0/1 values; {metric!r} is a score: use --test bootstrap",
                              field="--test")  # fmt: skip
        res = mcnemar_test(xa, xb)
        out["test"] = {**res.as_dict()}
    else:
        res = paired_bootstrap_test(xa, xb, n_resamples=n_resamples, seed=seed)
        out["test"] = {**res.as_dict(), "low": scale * res.low, "high": scale * res.high}
    out["p_value"] = out["test"]["p_value"]
    differ = [(i, x, y) for i, x, y in zip(ids, xa[: len(ids)], xb[: len(ids)], strict=True) if x != y]
    out["differ"] = [{"entry_id": i, "a": float(x), "b": float(y)} for i, x, y in differ]
    return out


def _compare_correlations(ra: RunScores, rb: RunScores, ids, only, left_out, n_resamples, seed) -> dict:
    """Paired bootstrap of a quality-scoring correlation (SRCC / PLCC averaged over datasets) on the entries
    both runs scored: one resample of entries for both runs, the reference and dataset of each entry kept."""
    groups = sorted(set(ra.groups) | set(rb.groups))
    vectors = [[(*run.vectors[i][:2], float(groups.index(run.groups[int(run.vectors[i][2])]))) for i in ids]
               for run in (ra, rb)]  # fmt: skip
    xa, xb = (np.array(v, dtype=np.float64) for v in vectors)
    if not np.array_equal(xa[:, 1:], xb[:, 1:]):
        raise InputError("the two files give different references (mos) or datasets for the same entries",
                         path=rb.path)  # fmt: skip
    res = paired_bootstrap_test(xa, xb, correlation_statistic(ra.metric, len(groups)), n_resamples=n_resamples,
                                seed=seed)  # fmt: skip
    out = {"a": ra.path, "b": rb.path, "benchmark": ra.benchmark, "kind": ra.kind, "metric": ra.metric,
           "n": len(ids), "not_in_both": only, "left_out": left_out, "scale": 1.0, "value_a": res.estimate_a,
           "value_b": res.estimate_b, "delta": res.delta, "reported_a": ra.reported, "reported_b": rb.reported,
           "unnamed": 0, "notes": [*ra.notes, *rb.notes, f"{ra.metric}: mean over {len(groups)} dataset(s)"],
           "test": res.as_dict(), "p_value": res.p_value}  # fmt: skip
    out["differ"] = [{"entry_id": i, "a": float(a[0]), "b": float(b[0])}
                     for i, a, b in zip(ids, xa, xb, strict=True) if a[0] != b[0]]  # fmt: skip
    return out


def format_comparison(res: dict) -> str:
    t = res["test"]
    name = "McNemar (" + t["method"] + ")" if t["test"] == "mcnemar" else "paired bootstrap"
    unit = " (x100)" if res.get("scale", 100.0) == 100.0 else ""
    lines = [f"{res['metric']}{unit} over {res['n']} entries: A {res['value_a']:.2f}  B {res['value_b']:.2f}  "
             f"A-B {res['delta']:+.2f}",
             f"{name}: p = {res['p_value']:.4g}"]  # fmt: skip
    if res.get("reported_a") is not None and res.get("reported_b") is not None:
        lines.append(f"as the files state it: A {res['reported_a']:.4g}  B {res['reported_b']:.4g}")
    if t["test"] == "mcnemar":
        lines.append(f"A right, B wrong: {t['n01']}   A wrong, B right: {t['n10']}")
    else:
        lines.append(f"95% CI of A-B: [{t['low']:.2f}, {t['high']:.2f}] ({t['n_resamples']} resamples)")
    if res["not_in_both"]:
        lines.append(f"not in both files (left out): {len(res['not_in_both'])}")
    if res.get("left_out"):
        lines.append(f"with no {res['metric']} value in one of the files (left out): {res['left_out']}")
    if res.get("unnamed"):
        lines.append(f"wrong in both and named by neither file (failed or missing calls): {res['unnamed']}")
    lines += res.get("notes", [])
    lines.append(f"entries where they differ ({len(res['differ'])}):")
    lines += [f"  {d['entry_id']}: A {d['a']:g}  B {d['b']:g}" for d in res["differ"]]
    return "\n".join(lines)


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Paired test between two runs on the same entries: "
                                "McNemar or paired bootstrap, the p-value and the entries where they differ. "
                                "Reads results JSONs of `evqa eval` (ST-Evidence or any registered benchmark), "
                                "MCQ metrics files of `evqa eval-mcq`, or summaries with their results JSON "
                                "beside them.")  # fmt: skip
    p.add_argument("a", metavar="A.json", help="results, MCQ metrics or summary file of run A")
    p.add_argument("b", metavar="B.json", help="the same kind of file of run B, same benchmark")
    p.add_argument("--metric", default=None,
                   help="per-entry value to compare (default: qa_correct for ST-Evidence gen, e.g. temporal_iop, "
                   "spatial_j; qa for MCQ metrics, or time_evidence, spatial_evidence; correct / accuracy for a "
                   "registered benchmark, or any per-entry number of its per_item, e.g. score)")  # fmt: skip
    p.add_argument("--test", default="auto", choices=TESTS,
                   help="auto: McNemar for 0/1 values, else paired bootstrap (default: %(default)s)")  # fmt: skip
    p.add_argument("--n_resamples", type=int, default=N_RESAMPLES,
                   help="paired bootstrap resamples (default: %(default)s)")  # fmt: skip
    p.add_argument("--seed", type=int, default=SEED, help="paired bootstrap seed (default: %(default)s)")
    p.add_argument(
        "--output", default=None, help="also write the comparison as JSON here (default: print only)"
    )
    return p


def run(args: argparse.Namespace) -> int:
    for path in (args.a, args.b):
        if not Path(path).is_file():
            raise ConfigError(f"file not found: {path}", field="A.json / B.json")
    res = compare_files(args.a, args.b, metric=args.metric, test=args.test, n_resamples=args.n_resamples,
                        seed=args.seed)  # fmt: skip
    print(format_comparison(res))
    if args.output:
        write_json_atomic(args.output, json.loads(json.dumps(res)))
    return 0
