"""Benchmark registry: `@register_benchmark("egotextvqa")` on a `Benchmark` subclass; modules are imported
only when a benchmark is asked for, so optional dependencies of one benchmark never load for another.

A name is listed only when its module is installed (a reserved name whose module does not exist yet is
never shown and `get_benchmark` calls it unknown).
"""

from __future__ import annotations

import importlib
import importlib.util

from evqa.errors import ConfigError

DEFAULT_BENCHMARK = "st_evidence_gen"

# registry name -> module defining it (imported lazily by get_benchmark_class)
BENCHMARK_MODULES: dict[str, str] = {
    "st_evidence_gen": "evqa.benchmarks.st_evidence",
    "st_evidence_mcq": "evqa.benchmarks.st_evidence",
    "egotextvqa": "evqa.benchmarks.egotextvqa",
    "egotempo": "evqa.benchmarks.egotextvqa",
    "reasonvqa": "evqa.benchmarks.reasonvqa",
    "tvqa": "evqa.benchmarks.tvqa",
    "videoespresso": "evqa.benchmarks.videoespresso",
    "vqa2_scoring": "evqa.benchmarks.vqa2_scoring",
    "qbench_video": "evqa.benchmarks.qbench_video",
}

_REGISTRY: dict[str, type] = {}


def register_benchmark(name: str):
    """Class decorator: make the benchmark available as `get_benchmark(name)`; sets `cls.name`."""

    def wrap(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(
                f"benchmark name '{name}' registered twice ({_REGISTRY[name].__name__}, {cls.__name__})"
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def list_benchmarks() -> list[str]:
    """Every benchmark whose module is installed, in table order."""
    return [name for name, module in BENCHMARK_MODULES.items() if _module_exists(module)]


def get_benchmark_class(name: str) -> type:
    """The `Benchmark` subclass registered as `name`, importing its module on first use.

    Raises ConfigError for an unknown name (listing the known ones).
    """
    if name not in _REGISTRY:
        module = BENCHMARK_MODULES.get(name)
        if module is None or not _module_exists(module):
            raise ConfigError(
                f"unknown benchmark '{name}'; known: {', '.join(list_benchmarks())}", field="--benchmark"
            )
        importlib.import_module(module)
    if name not in _REGISTRY:
        raise ConfigError(f"module {BENCHMARK_MODULES[name]} does not register '{name}'", field="--benchmark")
    return _REGISTRY[name]


def get_benchmark(name: str | None = None):
    """A fresh instance of benchmark `name` (default: st_evidence_gen)."""
    return get_benchmark_class(name or DEFAULT_BENCHMARK)()
