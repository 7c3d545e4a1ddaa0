"""Text normalisation shared by every layer (data loading, metrics, answer extraction, scorers).

This module sits at the bottom of the package: it imports nothing from `evqa`, so `evqa.data`,
`evqa.metrics` and `evqa.model` can all use it without depending on `evqa.eval`.
"""

from __future__ import annotations

import unicodedata

_SURROUNDING_PUNCTUATION = " \t\n.,;:!?'\"`()[]{}*"


def normalize_text(text: str) -> str:
    """NFKC, casefold, collapse whitespace, strip surrounding punctuation — the evqa text comparison."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    text = " ".join(text.split())
    return text.strip(_SURROUNDING_PUNCTUATION)
