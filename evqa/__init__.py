"""EVQA: evidence-backed video question answering — train, infer and score.

The package is import-light: heavy dependencies (torch, transformers, API clients) are imported by the
submodules that need them, never here.
"""

__version__ = "0.1.0"
