"""Benchmarks as registered entries (`evqa benchmarks` lists them); see README.md in this folder."""

from evqa.benchmarks.registry import (
    DEFAULT_BENCHMARK,
    get_benchmark,
    get_benchmark_class,
    list_benchmarks,
    register_benchmark,
)

__all__ = [
    "DEFAULT_BENCHMARK",
    "get_benchmark",
    "get_benchmark_class",
    "list_benchmarks",
    "register_benchmark",
]
