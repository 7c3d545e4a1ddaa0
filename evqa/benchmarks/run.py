"""The library side of `evqa infer|eval|synth|judge --benchmark NAME` for registered benchmarks: which
benchmark and files (`BenchmarkSelection`), the entry's task through the one runner (`run_benchmark_infer`),
its scorer and the summary file (`run_benchmark_eval`), its synthetic version (`synthesize_benchmark`).

Every function here takes typed options; the command line's flags are turned into them by
`evqa.cli.benchmark_args`, which also keeps the ST-Evidence command paths (`evqa.baselines.cli_run`,
`evqa.cli.eval_gen`, `evqa.cli.synth`) apart: for them it only fills the file flags from `--data-dir`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evqa.benchmarks.base import Benchmark, Scores
from evqa.benchmarks.registry import get_benchmark
from evqa.errors import ConfigError
from evqa.io import write_json_atomic

if TYPE_CHECKING:
    from evqa.baselines.cli_run import InferOptions
    from evqa.baselines.runner import RunSummary
    from evqa.eval.judge import JudgeSettings

log = logging.getLogger("evqa.benchmarks")


@dataclass(frozen=True)
class BenchmarkSelection:
    """A registered benchmark and its data for one run: `name` (as `get_benchmark` knows it), the folder its
    files are found under (`data_dir`, None: none), single files that win over what is found there
    (`files`: data-file key -> path, e.g. {"qa_file": "subset.jsonl"}) and the entry's option values
    (`options`: option dest -> value, for its `options` and `score_options`; one not given takes its
    default)."""

    name: str
    data_dir: str | os.PathLike | None = None
    files: Mapping[str, str | os.PathLike | None] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)

    def benchmark(self) -> Benchmark:
        """A fresh instance of the selected benchmark."""
        return get_benchmark(self.name)

    def _check(self, bench: Benchmark) -> None:
        if bench.name != self.name:
            raise ValueError(f"the selection is of benchmark {self.name}, not {bench.name}")
        unknown = [k for k in self.files if k not in {f.key for f in bench.data_files}]
        unknown += [k for k in self.options if k not in {o.dest for o in every_option(bench)}]
        if unknown:
            raise ValueError(f"benchmark {bench.name} has no data file or option {', '.join(unknown)}")

    def locate(self, bench: Benchmark) -> dict[str, Path | None]:
        """The benchmark's files: those in `files` first, else found under `data_dir` (`bench.locate`)."""
        self._check(bench)
        overrides = {f.key: self.files.get(f.key) for f in bench.data_files}
        return bench.locate(self.data_dir, overrides)

    def option_values(self, bench: Benchmark) -> dict[str, Any]:
        """Every option of the benchmark (its `options` and `score_options`): the given value, else its default."""
        self._check(bench)
        return {opt.dest: self.options.get(opt.dest, opt.default) for opt in every_option(bench)}


def every_option(bench: Benchmark) -> list:
    """The benchmark's `options` then its `score_options` (taken by infer and eval alike)."""
    return [*bench.options, *getattr(bench, "score_options", ())]  # score_options: on infer and eval


# --- infer -------------------------------------------------------------------------------------------


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


def run_benchmark_infer(
    bench: Benchmark, options: InferOptions, selection: BenchmarkSelection
) -> RunSummary | None:
    """Predictions of `options.model` on `bench` (its files and options from `selection`) through
    `evqa.baselines.runner.run_items`; None for a dry run or a merge (already reported)."""
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

    files = selection.locate(bench)
    records = bench.load(files)[: options.limit]
    if options.merge and options.output and options.model is None:
        merge_outputs(options.output, order=[r.entry_id for r in records])
        print(f"merged {options.output}")
        return None
    adapter, model_id = resolve_adapter(options.model or options.adapter, options.adapter)
    adapter_cls = get_model_class(adapter)
    sampling = sampling_from(options, adapter_cls)
    out = (
        Path(options.output)
        if options.output
        else default_prediction_path(bench, adapter, model_id, sampling)
    )
    if options.merge:
        merge_outputs(out, order=[r.entry_id for r in records])
        print(f"merged {out}")
        return None
    values = selection.option_values(bench)
    task = bench.build_task(records, files, sampling=sampling, options=values,
                            adapter_cls=adapter_cls, max_new_tokens=options.max_new_tokens)  # fmt: skip
    shard_index, num_shards = resolve_shard(options.num_shards, options.shard_index)
    if options.dry_run:
        print_plan(task, task.items()[shard_index::num_shards])
        return None
    described = {"name": bench.name, "options": values}
    data_files = [v for v in files.values() if isinstance(v, (str, os.PathLike))]
    header = make_header(options, adapter, model_id, adapter_cls, task.sampling, described, data_files)
    model = build_model(adapter, model_id, **model_options(options))
    header.endpoint = header.endpoint or model.endpoint()
    task.bind(AdapterCaller(model, bench.ask_method, retry_policy(options)))
    log.info("running %s (%s) on %s: %d entries -> %s", adapter, model_id, bench.name, len(records), out)
    return run_bound_task(task, model, out, options, header, shard_index, num_shards)


# --- eval / judge ------------------------------------------------------------------------------------


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


def run_benchmark_eval(
    bench: Benchmark,
    selection: BenchmarkSelection,
    pred_file: str | os.PathLike,
    *,
    protocol: str = "evqa",
    output_file: str | os.PathLike | None = None,
    judge: JudgeSettings | None = None,
) -> int:
    """Score `pred_file` on `bench` (files and options from `selection`), write `<pred stem><results_suffix>.json`
    (or `output_file`) and the summary; 0, or 1 when some items are judge errors. A benchmark scored by an LLM
    judge uses `judge` (None: the default `JudgeSettings()`); any other benchmark given a judge is a
    ConfigError."""
    from evqa.benchmarks.summary import write_summary

    files = selection.locate(bench)
    options = selection.option_values(bench)
    extra_run: dict[str, Any] = {}
    if bench.needs_judge:
        if judge is None:
            from evqa.eval.judge import JudgeSettings

            judge = JudgeSettings()
        options["judge"] = judge
        from evqa.prompts import JUDGE_PROMPT_VERSION

        extra_run = {"judge": options["judge"].model, "judge_prompt_version": JUDGE_PROMPT_VERSION}
    elif judge is not None:
        raise ConfigError(f"benchmark {bench.name} is not scored by a judge", field="--judge")
    scores, predictions = bench.evaluate(files, pred_file, protocol=protocol, options=options)
    print(format_scores(bench, scores))
    output = output_file or str(
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


def synthesize_benchmark(
    name: str, out: str | os.PathLike, *, seed: int = 0, num_items: int | None = None
) -> dict[str, Path | None]:
    """Write the synthetic version of registered benchmark `name` under folder `out` (`num_items` None: its
    own size); returns its files, {data file key: path} (what `BenchmarkSelection(name, data_dir=out)` finds)."""
    bench = get_benchmark(name)
    if not bench.has_synthetic:
        raise ConfigError(f"benchmark {name} has no synthetic version", field="--benchmark")
    return bench.synthesize(Path(out), seed=seed, num_items=num_items)
