"""`evqa infer|eval|synth|judge --benchmark NAME` for registered benchmarks: files from `--data-dir`, the
entry's task through the one runner, its scorer, and the summary file.

ST-Evidence keeps its own command paths (`evqa.baselines.cli_run`, `evqa.cli.eval_gen`, `evqa.cli.synth`);
for it these hooks only fill the file flags from `--data-dir` and add the summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

from evqa.benchmarks.base import Scores
from evqa.benchmarks.cli_args import benchmark_name, benchmark_options, judge_settings, located_files
from evqa.benchmarks.registry import get_benchmark
from evqa.errors import ConfigError
from evqa.io import write_json_atomic

log = logging.getLogger("evqa.benchmarks")

ST_EVIDENCE = ("st_evidence_gen", "st_evidence_mcq")


def _fill_from_data_dir(bench, args: argparse.Namespace) -> None:
    """ST-Evidence with --data-dir: set the file flags the user left empty to what the data dir holds."""
    if not getattr(args, "data_dir", None):
        return
    for key, path in located_files(bench, args).items():
        if hasattr(args, key) and getattr(args, key) is None and path is not None:
            setattr(args, key, str(path))


# --- infer -------------------------------------------------------------------------------------------


def infer_hook(args: argparse.Namespace):
    """Run `evqa infer` for a registered benchmark; returns (True, RunSummary | None) when it handled the
    command, (False, None) when the ST-Evidence path should run (with file flags filled from --data-dir)."""
    name = benchmark_name(args)
    bench = get_benchmark(name)
    if name in ST_EVIDENCE:
        explicit = getattr(args, "benchmark", None) is not None
        if name == "st_evidence_mcq" and args.task == "gen":
            args.task = "mcq"
        if explicit and name == "st_evidence_gen" and args.task not in ("gen", "masks"):
            raise ConfigError(f"--task {args.task} is not the generative benchmark", field="--task")
        _fill_from_data_dir(bench, args)
        return False, None
    return True, run_benchmark_infer(bench, args)


def default_prediction_path(bench, adapter: str, model_id: str, sampling) -> Path:
    """results/<model folder>/<model>_<benchmark>_<fps tag>.json (the ST-Evidence naming scheme)."""
    from evqa.baselines.benchmarks import fps_tag, model_slug
    from evqa.baselines.registry import adapter_facts

    tag = fps_tag(sampling.fps, sampling.num_frames)
    return (
        Path("results")
        / adapter_facts(adapter).result_folder
        / f"{model_slug(model_id)}_{bench.name}_{tag}.json"
    )


def run_benchmark_infer(bench, args: argparse.Namespace):
    """Predictions of `--model` on `bench` through `evqa.baselines.runner.run_items`."""
    from evqa.baselines.cli_run import (
        make_header,
        model_options,
        print_plan,
        retry_policy,
        run_bound_task,
        sampling_from,
    )
    from evqa.baselines.registry import build_model, get_model_class, resolve_adapter
    from evqa.baselines.runner import resolve_shard
    from evqa.baselines.store import merge_outputs
    from evqa.benchmarks.task import AdapterCaller

    files = located_files(bench, args)
    records = bench.load(files)[: args.limit]
    if args.merge and args.output and args.model is None:
        merge_outputs(args.output, order=[r.entry_id for r in records])
        print(f"merged {args.output}")
        return None
    adapter, model_id = resolve_adapter(args.model or args.adapter, args.adapter)
    adapter_cls = get_model_class(adapter)
    sampling = sampling_from(args, adapter_cls)
    out = Path(args.output) if args.output else default_prediction_path(bench, adapter, model_id, sampling)
    if args.merge:
        merge_outputs(out, order=[r.entry_id for r in records])
        print(f"merged {out}")
        return None
    task = bench.build_task(records, files, sampling=sampling, options=benchmark_options(bench, args),
                            adapter_cls=adapter_cls, max_new_tokens=args.max_new_tokens)  # fmt: skip
    shard_index, num_shards = resolve_shard(args.num_shards, args.shard_index)
    if args.dry_run:
        print_plan(task, task.items()[shard_index::num_shards])
        return None
    described = {"name": bench.name, "options": benchmark_options(bench, args)}
    data_files = [v for v in files.values() if isinstance(v, (str, os.PathLike))]
    header = make_header(args, adapter, model_id, adapter_cls, task.sampling, described, data_files)
    model = build_model(adapter, model_id, **model_options(args))
    header.endpoint = header.endpoint or model.endpoint()
    task.bind(AdapterCaller(model, bench.ask_method, retry_policy(args)))
    log.info("running %s (%s) on %s: %d entries -> %s", adapter, model_id, bench.name, len(records), out)
    return run_bound_task(task, model, out, args, header, shard_index, num_shards)


# --- eval / judge ------------------------------------------------------------------------------------


def eval_hook(args: argparse.Namespace, pred_file: str) -> int | None:
    """`evqa eval --benchmark NAME`: None for the generative ST-Evidence path (file flags filled from
    --data-dir), else the exit code of scoring the registered benchmark."""
    name = benchmark_name(args)
    bench = get_benchmark(name)
    if name == "st_evidence_gen":
        _fill_from_data_dir(bench, args)
        return None
    return run_benchmark_eval(bench, args, pred_file)


def format_scores(bench, scores: Scores) -> str:
    """Headline columns, then one line per breakdown group, then the counts."""
    lines = [
        "  ".join(f"{c.label}: {scores.metrics.get(c.key, float('nan')):.{c.digits}f}" for c in bench.columns)
    ]
    for key, groups in scores.breakdowns.items():
        for group, values in groups.items():
            shown = "  ".join(
                f"{c.label}: {values[c.key]:.{c.digits}f}" for c in bench.columns if c.key in values
            )
            lines.append(f"  {key}={group}: {shown}  (n={values.get('n', '?')})")
    lines.append("counts: " + ", ".join(f"{k} {v}" for k, v in scores.counts.items()))
    return "\n".join(lines)


def results_json(bench, scores: Scores, protocol: str, pred_file: str) -> dict[str, Any]:
    """The results file of a registered (non-ST-Evidence) benchmark: metrics, breakdowns, counts, items."""
    if scores.results is not None:
        return scores.results
    return {"benchmark": bench.name, "protocol": protocol, "pred_file": str(pred_file),
            "metrics": scores.metrics, "breakdowns": scores.breakdowns, "counts": scores.counts,
            "per_item": scores.per_item}  # fmt: skip


def run_benchmark_eval(bench, args: argparse.Namespace, pred_file: str) -> int:
    """Score `pred_file` on `bench`, write `<pred stem><results_suffix>.json` (or --output_file) and the summary."""
    from evqa.benchmarks.summary import write_summary

    files = located_files(bench, args)
    options = benchmark_options(bench, args)
    extra_run: dict[str, Any] = {}
    if bench.needs_judge:
        options["judge"] = judge_settings(args)
        from evqa.prompts import JUDGE_PROMPT_VERSION

        extra_run = {"judge": options["judge"].model, "judge_prompt_version": JUDGE_PROMPT_VERSION}
    elif getattr(args, "judge", None):
        raise ConfigError(f"benchmark {bench.name} is not scored by a judge", field="--judge")
    protocol = getattr(args, "protocol", "evqa")
    scores, predictions = bench.evaluate(files, pred_file, protocol=protocol, options=options)
    print(format_scores(bench, scores))
    output = getattr(args, "output_file", None) or str(
        Path(pred_file).with_name(f"{Path(pred_file).stem}{bench.results_suffix}.json")
    )
    results = results_json(bench, scores, protocol, pred_file)
    if scores.results is None:  # the registry's own results file: CIs of its headline metrics
        from evqa.benchmarks.base import headline_ci

        results["ci"], results["ci_settings"] = headline_ci(bench, scores)
    write_json_atomic(output, results)
    summary = write_summary(bench, scores, pred_file=pred_file, predictions=predictions, files=files,
                            protocol=protocol, extra_run=extra_run, ci=results.get("ci"))  # fmt: skip
    print(f"results written to {output}; summary to {summary}")
    errors = scores.counts.get("judge_error", 0)
    if errors:
        print(f"{errors} judge errors (counted, not scored); run the same command again to retry them")
        return 1
    return 0


def write_st_evidence_summary(name: str, pred_file: str, files: dict, results: dict, protocol: str) -> Path:
    """The summary of an ST-Evidence evaluation by `evqa eval` / `evqa eval-mcq` (`name`: st_evidence_gen or
    st_evidence_mcq; `files`: the data files used); the results JSON itself is written unchanged."""
    from evqa.benchmarks.summary import write_summary

    bench = get_benchmark(name)
    predictions = bench.read_predictions(pred_file)
    scores = (
        bench.scores_from_results(results, predictions)
        if name == "st_evidence_mcq"
        else bench.scores_from_results(results)
    )
    files = {k: None if v is None else Path(v) for k, v in files.items()}
    return write_summary(bench, scores, pred_file=pred_file, predictions=predictions, files=files,
                         protocol=results.get("protocol", protocol), ci=results.get("ci"))  # fmt: skip


# --- synth -------------------------------------------------------------------------------------------


def synth_hook(args: argparse.Namespace) -> int | None:
    """`evqa synth --benchmark NAME`: None for ST-Evidence (its generator runs as before), else writes the
    entry's synthetic version and prints where its files are."""
    name = benchmark_name(args)
    if name in ST_EVIDENCE:
        return None
    from evqa.data.synth import default_root

    bench = get_benchmark(name)
    if not bench.has_synthetic:
        raise ConfigError(f"benchmark {name} has no synthetic version", field="--benchmark")
    out = Path(args.out)
    if out == default_root():  # --out not given: a folder of its own beside the ST-Evidence synth data
        out = out / name
    files = bench.synthesize(out, seed=args.seed, num_items=getattr(args, "num_items", None))
    records = bench.load(files)
    print(json.dumps({"benchmark": name, "out": str(out), "items": len(records),
                      "files": {k: None if v is None else str(v) for k, v in files.items()}}, indent=2))  # fmt: skip
    return 0
