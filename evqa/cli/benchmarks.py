"""`evqa benchmarks`: the registered benchmarks — their data files, metrics, breakdowns, and whether a
synthetic version exists (`evqa synth --benchmark NAME`)."""

from __future__ import annotations

import argparse
import json


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0].split(": ", 1)[1])
    p.add_argument("name", nargs="?", help="show only this benchmark (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text (default: text)")
    return p


def _text(info: dict) -> str:
    lines = [f"{info['name']}: {info['description']}"]
    for spec in info["data"]:
        need = "" if spec["required"] else " (optional)"
        lines.append(f"    data  {spec['flag']:<20} {spec['layout'][0]}{need}: {spec['help']}")
    lines.append(f"    metrics    {', '.join(info['metrics'])}")
    if info["breakdowns"]:
        lines.append(f"    breakdowns {', '.join(info['breakdowns'])}")
    extras = [f"protocols {'/'.join(info['protocols'])}"]
    extras.append(
        "synthetic: yes (evqa synth --benchmark " + info["name"] + ")"
        if info["synthetic"]
        else "synthetic: no"
    )
    if info["judge"]:
        extras.append("scored by an LLM judge (--judge)")
    if info["ask"] != "generate":
        extras.append(f"asks the adapter's {info['ask']}()")
    lines.append("    " + "; ".join(extras))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from evqa.benchmarks import get_benchmark, list_benchmarks

    names = [args.name] if args.name else list_benchmarks()
    infos = [get_benchmark(name).describe() for name in names]
    if args.json:
        print(json.dumps(infos, indent=2))
    else:
        print("\n\n".join(_text(info) for info in infos))
    return 0
