"""`evqa compare A.json B.json`: a paired test between two runs scored on the same benchmark entries.

    evqa compare a_eval.json b_eval.json                 # McNemar on answer correctness
    evqa compare a_eval.json b_eval.json --test bootstrap --metric temporal_iou

The inputs are results JSONs with per-entry scores (`per_sample_scores`, as `evqa eval` writes them). Answer
correctness is compared with McNemar's test (exact binomial below 25 discordant entries, `evqa.metrics.stats`)
or the paired bootstrap; a per-entry score (temporal_iou, temporal_iop, spatial_j, ...) with the paired
bootstrap. Prints the two values, the difference, the p-value and the entries where the runs differ.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from evqa.errors import ConfigError, InputError
from evqa.io import read_json, write_json_atomic
from evqa.metrics.stats import N_RESAMPLES, SEED, mcnemar_test, paired_bootstrap_test

TESTS = ("auto", "mcnemar", "bootstrap")


def _per_entry(path: str) -> dict[str, dict]:
    data = read_json(path, error=InputError)
    samples = data.get("per_sample_scores") if isinstance(data, dict) else None
    if not isinstance(samples, dict) or not samples:
        raise InputError(
            "no per-entry scores ('per_sample_scores'): give a results JSON of `evqa eval`", path=path
        )
    return samples


def compare_files(path_a: str, path_b: str, *, metric: str = "qa_correct", test: str = "auto",
                  n_resamples: int = N_RESAMPLES, seed: int = SEED) -> dict:  # fmt: skip
    """The paired comparison of two results files on the entries both scored (module doc)."""
    if test not in TESTS:
        raise ConfigError(f"unknown test {test!r} (choose from {', '.join(TESTS)})", field="--test")
    a, b = _per_entry(path_a), _per_entry(path_b)
    ids = [i for i in a if i in b]
    if not ids:
        raise InputError(f"no entry in common with {path_b}", path=path_a)
    only = sorted(set(a) ^ set(b))
    va = [a[i].get(metric) for i in ids]
    vb = [b[i].get(metric) for i in ids]
    if all(v is None for v in va + vb):
        raise ConfigError(f"no entry has a value for {metric!r}", field="--metric")
    keep = [k for k, (x, y) in enumerate(zip(va, vb, strict=True)) if x is not None and y is not None]
    ids = [ids[k] for k in keep]
    xa = np.array([float(va[k]) for k in keep])
    xb = np.array([float(vb[k]) for k in keep])
    binary = bool(np.all(np.isin(xa, (0, 1))) and np.all(np.isin(xb, (0, 1))))
    if test == "auto":
        test = "mcnemar" if binary else "bootstrap"
    out = {"a": str(path_a), "b": str(path_b), "metric": metric, "n": len(ids), "not_in_both": only,
           "value_a": 100 * float(xa.mean()), "value_b": 100 * float(xb.mean())}  # fmt: skip
    out["delta"] = out["value_a"] - out["value_b"]
    if test == "mcnemar":
        if not binary:
            raise ConfigError(f"McNemar needs 0/1 values; {metric!r} is a score: use --test bootstrap",
                              field="--test")  # fmt: skip
        res = mcnemar_test(xa, xb)
        out["test"] = {**res.as_dict()}
    else:
        res = paired_bootstrap_test(xa, xb, n_resamples=n_resamples, seed=seed)
        out["test"] = {**res.as_dict(), "low": 100 * res.low, "high": 100 * res.high}
    out["p_value"] = out["test"]["p_value"]
    differ = [(i, x, y) for i, x, y in zip(ids, xa, xb, strict=True) if x != y]
    out["differ"] = [{"entry_id": i, "a": float(x), "b": float(y)} for i, x, y in differ]
    return out


def format_comparison(res: dict) -> str:
    t = res["test"]
    name = "McNemar (" + t["method"] + ")" if t["test"] == "mcnemar" else "paired bootstrap"
    lines = [f"{res['metric']} over {res['n']} entries: A {res['value_a']:.2f}  B {res['value_b']:.2f}  "
             f"A-B {res['delta']:+.2f}",
             f"{name}: p = {res['p_value']:.4g}"]  # fmt: skip
    if t["test"] == "mcnemar":
        lines.append(f"A right, B wrong: {t['n01']}   A wrong, B right: {t['n10']}")
    else:
        lines.append(f"95% CI of A-B: [{t['low']:.2f}, {t['high']:.2f}] ({t['n_resamples']} resamples)")
    if res["not_in_both"]:
        lines.append(f"not in both files (left out): {len(res['not_in_both'])}")
    lines.append(f"entries where they differ ({len(res['differ'])}):")
    lines += [f"  {d['entry_id']}: A {d['a']:g}  B {d['b']:g}" for d in res["differ"]]
    return "\n".join(lines)


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Paired test between two runs on the same entries: "
                                "McNemar or paired bootstrap, the p-value and the entries where they differ.")  # fmt: skip
    p.add_argument("a", metavar="A.json", help="results JSON of run A (evqa eval output)")
    p.add_argument("b", metavar="B.json", help="results JSON of run B, same benchmark")
    p.add_argument("--metric", default="qa_correct",
                   help="per-entry key of per_sample_scores (default: %(default)s; e.g. temporal_iop, spatial_j)")  # fmt: skip
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
