"""Typed exceptions. Library code raises these; only `evqa.cli` turns them into messages and exit codes.

Every error about user input names where the problem is: the file, the entry (row / entry_id) and the
field, so the CLI can print a single clear line.
"""

from __future__ import annotations


class EvqaError(Exception):
    """Base class of every error EVQA raises on purpose."""


class InputError(EvqaError):
    """A user-supplied file, entry or field is missing or malformed.

    Args:
        message: what is wrong, in words.
        path: the file concerned, if any.
        entry: the entry id or row number concerned, if any.
        field: the column / key concerned, if any.
    """

    def __init__(self, message: str, *, path=None, entry=None, field=None):
        self.message = message
        self.path = None if path is None else str(path)
        self.entry = entry
        self.field = field
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.entry is not None:
            where.append(f"entry {self.entry}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return f"{': '.join(where)}: {self.message}" if where else self.message


class DataError(InputError):
    """A dataset file (CSV, mask JSON, video, frame folder) is missing or malformed."""


class PredictionError(InputError):
    """A prediction file cannot be read or has the wrong top-level shape."""


class ConfigError(InputError):
    """A configuration (YAML, preset, command-line combination) is invalid."""


class ModelError(EvqaError):
    """A model cannot be built, loaded or run (missing weights, key mismatch, wrong preset)."""


class BackendUnavailableError(EvqaError):
    """An optional dependency (a video decoder, an API client, flash-attn) is not installed."""


class ApiError(EvqaError):
    """A remote model API failed after all retries. `retryable` tells whether a retry may succeed."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        self.status = status
        self.retryable = retryable
        super().__init__(message)


class AuthenticationError(ApiError):
    """The API refused the credentials (HTTP 401 / 403). Every further request would fail the same way,
    so the runner stops the run at the first one instead of failing each entry."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message, status=status, retryable=False)


AUTH_STATUS = frozenset({401, 403})
