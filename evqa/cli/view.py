"""`evqa view`: a static HTML error viewer of one or two prediction files (open its index.html from disk).

    evqa view --pred_file P.json --out report/                                  # synthetic benchmark
    evqa view --pred_file A.json --pred_file B.json --data-dir data/st_evidence/st_evidence_gen --out ab/
    evqa view --benchmark st_evidence_mcq --pred_file M.json --data-dir data/st_evidence --out mcq/
    evqa view --pred_file P.json --gt_file G.csv --video_dir V --gt_mask_dir M --out report/ --serve
    evqa view --benchmark tvqa --pred_file A.json --pred_file B.json --data-dir data/tvqa --out tvqa_ab/
    evqa view --benchmark egotextvqa --pred_file P.json --data-dir D --out ego/   # reads P_eval.json (judged)

Data flags are those of `evqa eval`. Without --gt_file / --data-dir ST-Evidence's synthetic benchmark is
used; every other registered benchmark (`evqa benchmarks`) needs --data-dir or its own file flags, and is
shown by the one generic builder (`evqa.eval.viewer.benchmark`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evqa.errors import ConfigError

ST_EVIDENCE = ("st_evidence_gen", "st_evidence_mcq")
MCQ_FOLDERS = (".", "st_evidence_mcq", "mcq", "benchmark/mcq")
VIDEO_FOLDERS = ("videos_6fps", "videos")
MASK_FOLDERS = ("masks", "masks_rle", "gt_masks")


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Write a static HTML report of a run's errors: per entry "
                                "the answers, a GT vs predicted timeline, frames with GT and predicted masks, "
                                "the raw reply; a summary with the metric table, filters and an A/B comparison.")  # fmt: skip
    p.add_argument("--pred_file", "--pred-file", dest="pred_files", action="append", required=True, metavar="PRED",
                   help="prediction file (JSON or JSONL); give it twice to compare two runs (A/B)")  # fmt: skip
    from evqa.benchmarks.registry import list_benchmarks

    p.add_argument("--benchmark", default="st_evidence_gen", choices=list_benchmarks(),
                   help="registered benchmark (default: %(default)s)")  # fmt: skip
    p.add_argument(
        "--out", default=None, help="report folder (default: <first pred_file stem>_view next to it)"
    )
    data = p.add_argument_group("data (default: the synthetic benchmark)")
    data.add_argument(
        "--gt_file", "--gt-file", dest="gt_file", help="GT CSV (default: the synthetic benchmark's)"
    )
    data.add_argument("--data-dir", "--data_dir", dest="data_dir", default=None,
                      help="benchmark folder: st_evidence_gen.csv with videos_6fps/ or videos/ and masks/ (or "
                      "masks_rle/, gt_masks/); for st_evidence_mcq st_evidence_mcq.csv with temp_options.json and "
                      "mask_options.json (also looked for in its st_evidence_gen/, st_evidence_mcq/, mcq/, "
                      "benchmark/); any other benchmark: its folder as `evqa synth --benchmark NAME --out DIR` writes "
                      "it or as released (`evqa benchmarks` lists the layouts); the flags below override its "
                      "parts (default: none)")  # fmt: skip
    data.add_argument("--video_dir", "--video-dir", dest="video_dir", default=None,
                      help="folder the CSV's video_path is relative to (default: videos_6fps/ or videos/ next to "
                      "the CSV; none found: masks are drawn on blank frames)")  # fmt: skip
    data.add_argument("--gt_mask_dir", "--gt-mask-dir", dest="gt_mask_dir", default=None,
                      help="GT masks, <dir>/<entry_id>/<frame:05d>.png or <dir>/<entry_id>.json (default: masks/, "
                      "masks_rle/ or gt_masks/ next to the CSV; none found: no masks)")  # fmt: skip
    data.add_argument("--pred_mask_dir", "--pred-mask-dir", dest="pred_mask_dirs", action="append", default=None, metavar="DIR",
                      help="predicted masks, once per --pred_file in the same order (default: <pred_file without "
                      ".json>/<mask_mode>, as evqa eval)")  # fmt: skip
    data.add_argument("--mask_mode", default="concat", choices=["concat", "seperate", "separate"],
                      help="which upstream mask folder to default to (default: %(default)s)")  # fmt: skip
    data.add_argument("--data_file", "--data-file", dest="data_file", default=None,
                      help="st_evidence_mcq: st_evidence_mcq.csv (default: in --data-dir, else the synthetic one)")  # fmt: skip
    data.add_argument("--distractors_file", "--distractors-file", dest="distractors_file", default=None,
                      help="st_evidence_mcq: temp_options.json (default: next to the MCQ CSV)")  # fmt: skip
    data.add_argument("--mask_file", "--mask-file", dest="mask_file", default=None,
                      help="st_evidence_mcq: mask_options.json (default: next to the MCQ CSV)")  # fmt: skip
    reg = p.add_argument_group("other registered benchmarks (tvqa, egotextvqa, ...)")
    reg.add_argument("--results_file", "--results-file", dest="results_files", action="append", default=None,
                     metavar="RESULTS", help="results JSON of `evqa eval --benchmark NAME`, once per --pred_file in "
                     "the same order (default: scored here; judged benchmarks: <pred stem>_eval.json beside it)")  # fmt: skip
    reg.add_argument("--protocol", default="evqa", choices=["evqa", "upstream"],
                     help="scoring protocol when scored here (default: %(default)s)")  # fmt: skip
    from evqa.cli.benchmark_args import add_benchmark_arguments

    add_benchmark_arguments(p, data=True, options=True, data_dir=False)
    _add_report_arguments(p)
    return p


def _add_report_arguments(p: argparse.ArgumentParser) -> None:
    rep = p.add_argument_group("report")
    rep.add_argument(
        "--limit", type=int, default=None, help="only the first N entries, scored as such (default: all)"
    )
    rep.add_argument("--max_frames", "--max-frames", dest="max_frames", type=int, default=8,
                     help="frames shown per entry, GT-mask frames first (default: %(default)s)")  # fmt: skip
    rep.add_argument("--thumb_width", "--thumb-width", dest="thumb_width", type=int, default=320,
                     help="thumbnail width in pixels (default: %(default)s)")  # fmt: skip
    rep.add_argument("--chunk_size", "--chunk-size", dest="chunk_size", type=int, default=100,
                     help="entries per data file the page loads on demand (default: %(default)s)")  # fmt: skip
    rep.add_argument("--iop_threshold", type=float, default=0.5,
                     help="a right answer with temporal IoP below this has bad evidence (default: %(default)s)")  # fmt: skip
    rep.add_argument("--j_threshold", type=float, default=0.5,
                     help="... or with mask J below this (default: %(default)s)")  # fmt: skip
    rep.add_argument(
        "--title", default=None, help="page title (default: the benchmark and prediction file names)"
    )
    rep.add_argument(
        "--num_workers", type=int, default=1, help="processes for mask scoring (default: %(default)s)"
    )
    rep.add_argument("--no_progress", "--no-progress", dest="no_progress", action="store_true",
                     help="hide progress bars (default: shown)")  # fmt: skip
    rep.add_argument("--serve", action="store_true",
                     help="then serve the report on http://127.0.0.1:PORT until Ctrl-C (default: only write it)")  # fmt: skip
    rep.add_argument(
        "--port", type=int, default=8000, help="port for --serve, 0 = any free one (default: %(default)s)"
    )


def _first_dir(base: Path, names: tuple[str, ...]) -> str | None:
    return next((str(base / n) for n in names if (base / n).is_dir()), None)


def _data_dir_csv(data_dir: str) -> Path:
    """st_evidence_gen.csv inside a --data-dir (the benchmark folder itself, or a root holding it)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise ConfigError(f"folder not found: {data_dir}", field="--data-dir")
    for folder in (root, root / "st_evidence_gen", root / "benchmark"):
        if (folder / "st_evidence_gen.csv").is_file():
            return folder / "st_evidence_gen.csv"
    raise ConfigError(f"no st_evidence_gen.csv in {data_dir} (nor in its st_evidence_gen/ or benchmark/)",
                      field="--data-dir")  # fmt: skip


def resolve_data(args) -> tuple[str, str | None, str | None]:
    """(GT CSV, video folder, GT mask folder): the flags, else found next to the CSV, else synthetic."""
    if args.gt_file is None and args.data_dir is None:
        from evqa.data.synth import ensure_synth

        paths = ensure_synth()
        return (
            str(paths.gen_csv),
            args.video_dir or str(paths.video_dir),
            args.gt_mask_dir or str(paths.gt_mask_rle_dir),
        )
    csv = Path(args.gt_file) if args.gt_file else _data_dir_csv(args.data_dir)
    if not csv.is_file():
        raise ConfigError(f"file not found: {csv}", field="--gt_file")
    base = csv.parent
    video_dir = args.video_dir or _first_dir(base, VIDEO_FOLDERS)
    mask_dir = args.gt_mask_dir or _first_dir(base, MASK_FOLDERS)
    return str(csv), video_dir, mask_dir


def _beside(csv: Path, given: str | None, name: str) -> str | None:
    if given is not None:
        return given
    return str(csv.parent / name) if (csv.parent / name).is_file() else None


def resolve_mcq_data(args) -> tuple[str, str | None, str | None, str | None]:
    """(MCQ CSV, temp_options.json, mask_options.json, video folder): flags, else found, else synthetic."""
    if args.data_file is None and args.data_dir is None:
        from evqa.data.synth import ensure_synth

        paths = ensure_synth()
        return (str(paths.mcq_csv), args.distractors_file or str(paths.temp_options),
                args.mask_file or str(paths.mask_options), args.video_dir or str(paths.video_dir))  # fmt: skip
    if args.data_file is not None:
        csv = Path(args.data_file)
        if not csv.is_file():
            raise ConfigError(f"file not found: {csv}", field="--data_file")
    else:
        root = Path(args.data_dir)
        found = [
            root / f / "st_evidence_mcq.csv"
            for f in MCQ_FOLDERS
            if (root / f / "st_evidence_mcq.csv").is_file()
        ]
        if not found:
            raise ConfigError(f"no st_evidence_mcq.csv in {root} (nor in {', '.join(MCQ_FOLDERS[1:])})",
                              field="--data-dir")  # fmt: skip
        csv = found[0]
    video_dir = (
        args.video_dir
        or _first_dir(csv.parent, VIDEO_FOLDERS)
        or _first_dir(csv.parent.parent, VIDEO_FOLDERS)
    )
    return (str(csv), _beside(csv, args.distractors_file, "temp_options.json"),
            _beside(csv, args.mask_file, "mask_options.json"), video_dir)  # fmt: skip


def _run_mcq(args, out: str) -> Path:
    from evqa.eval.viewer import write_st_evidence_mcq_viewer

    data_file, distractors, masks, video_dir = resolve_mcq_data(args)
    print(f"MCQ: {data_file}\ntime options: {distractors or 'none'}\nmask options: {masks or 'none'}")
    return write_st_evidence_mcq_viewer(out, data_file, args.pred_files, distractors_file=distractors,
                                        mask_file=masks, video_dir=video_dir, chunk_size=args.chunk_size,
                                        limit=args.limit, thumb_width=args.thumb_width,
                                        progress=not args.no_progress, title=args.title)  # fmt: skip


def _run_gen(args, out: str) -> Path:
    from evqa.eval.viewer import write_st_evidence_gen_viewer
    from evqa.eval.viewer.st_evidence_gen import EvidenceThresholds

    if args.pred_mask_dirs is not None and len(args.pred_mask_dirs) != len(args.pred_files):
        raise ConfigError(f"give --pred_mask_dir once per --pred_file ({len(args.pred_files)}), "
                          f"got {len(args.pred_mask_dirs)}", field="--pred_mask_dir")  # fmt: skip
    gt_file, video_dir, gt_mask_dir = resolve_data(args)
    print(
        f"GT: {gt_file}\nvideos: {video_dir or 'none (masks on blank frames)'}\nGT masks: {gt_mask_dir or 'none'}"
    )
    return write_st_evidence_gen_viewer(
        out, gt_file, args.pred_files, pred_mask_dirs=args.pred_mask_dirs, video_dir=video_dir,
        gt_mask_dir=gt_mask_dir, chunk_size=args.chunk_size, limit=args.limit, max_frames=args.max_frames,
        thumb_width=args.thumb_width, thresholds=EvidenceThresholds(args.iop_threshold, args.j_threshold),
        num_workers=args.num_workers, progress=not args.no_progress, title=args.title, mask_mode=args.mask_mode,
    )  # fmt: skip


def _run_registry(args, out: str) -> Path:
    """Any registered benchmark but ST-Evidence: its files from --data-dir / its flags, the generic builder."""
    from evqa.benchmarks.registry import get_benchmark
    from evqa.cli.benchmark_args import benchmark_selection
    from evqa.eval.viewer import write_benchmark_viewer

    bench = get_benchmark(args.benchmark)
    if args.results_files is not None and len(args.results_files) != len(args.pred_files):
        raise ConfigError(f"give --results_file once per --pred_file ({len(args.pred_files)}), "
                          f"got {len(args.results_files)}", field="--results_file")  # fmt: skip
    selection = benchmark_selection(bench, args)
    files = selection.locate(bench)
    print(f"{bench.name}: " + ", ".join(f"{k} {v}" for k, v in files.items() if v is not None))
    return write_benchmark_viewer(out, bench.name, files, args.pred_files, results_files=args.results_files,
                                  chunk_size=args.chunk_size, protocol=args.protocol,
                                  options=selection.option_values(bench), limit=args.limit,
                                  max_frames=args.max_frames, thumb_width=args.thumb_width,
                                  progress=not args.no_progress, title=args.title)  # fmt: skip


def _serve(folder: Path, port: int) -> None:
    """Serve the report folder until Ctrl-C (which ends the command normally, exit code 0)."""
    from evqa.eval.viewer.serve import make_server, server_url

    server = make_server(folder, port)
    print(f"serving {folder} at {server_url(server)} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()


def run(args: argparse.Namespace) -> int:
    for pred in args.pred_files:
        if not Path(pred).is_file():
            raise ConfigError(f"file not found: {pred}", field="--pred_file")
    first = Path(args.pred_files[0])
    out = args.out or str(first.with_name(f"{first.stem}_view"))
    if args.benchmark == "st_evidence_mcq":
        index = _run_mcq(args, out)
    elif args.benchmark == "st_evidence_gen":
        index = _run_gen(args, out)
    else:
        index = _run_registry(args, out)
    print(f"report written to {index}")
    if args.serve:
        _serve(index.parent, args.port)
    return 0
