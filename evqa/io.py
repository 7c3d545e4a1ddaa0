"""Small file helpers shared by every layer: atomic JSON writes and JSON reads with clear errors, and the
umask-respecting permissions of files and folders made through temporary names."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from evqa.errors import InputError


def current_umask() -> int:
    """The process umask (read without changing it where /proc tells it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def respect_umask(path: str | os.PathLike, *, folder: bool = False) -> None:
    """Give a file (0666) or folder (0777) made by `tempfile` (which uses 0600 / 0700) the permissions
    `open()` / `mkdir()` would have given it under the current umask."""
    os.chmod(path, (0o777 if folder else 0o666) & ~current_umask())


def make_temp_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A fresh private-named folder in `parent` with umask permissions (to be renamed into place)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    respect_umask(tmp, folder=True)
    return tmp


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write text (UTF-8) so that a reader (or a crash) never sees a half-written file: temp file in the
    same folder + fsync + os.replace. The file gets the permissions of a plain `open()` under the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        respect_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(
    path: str | os.PathLike, obj: Any, *, indent: int | None = 2, sort_keys: bool = False
) -> None:
    """`write_text_atomic` of `obj` as JSON (non-ASCII kept as is)."""
    write_text_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False, sort_keys=sort_keys))


def read_json(path: str | os.PathLike, *, error: type[InputError] = InputError) -> Any:
    """Parse a JSON file; a missing file or invalid JSON raises `error` naming the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise error("file not found", path=path) from None
    except IsADirectoryError:
        raise error("is a directory, expected a JSON file", path=path) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise error(f"not valid JSON ({err})", path=path) from None
    except RecursionError:
        raise error("JSON nested too deeply to read", path=path) from None
    except ValueError as err:  # e.g. an integer with more digits than Python converts
        raise error(f"not readable JSON ({err})", path=path) from None


def read_jsonl_objects(
    path: str | os.PathLike, *, error: type[InputError] = InputError
) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line of a JSONL data file; a missing or unreadable file, or a
    line that is not a JSON object, raises `error` naming the file and line. (Prediction files, where a torn
    line is skipped instead, are read by `evqa.run_files.read_jsonl`.)"""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        raise error("file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"cannot read ({err})", path=path) from None
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise error(f"not valid JSON ({err.msg})", path=path, entry=f"line {number}") from None
        if not isinstance(obj, dict):
            raise error("expected a JSON object", path=path, entry=f"line {number}")
        out.append((number, obj))
    return out
