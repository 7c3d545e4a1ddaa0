"""Path safety for names that come from data files: every path built from an entry id goes through here.

An entry id names files (`<mask folder>/<entry_id>.json`, `<pred folder>/<entry_id>/masks/`), so an id such
as `../../x` or `/etc/x` must never reach the file system unchecked.
"""

from __future__ import annotations

import os
from pathlib import Path

from evqa.errors import InputError

MAX_ID_BYTES = 200


def validate_entry_id(entry_id: str) -> str:
    """Return `entry_id` unchanged if it can name a file inside a folder; raise InputError otherwise.

    Refused: empty ids, `/`, `\\`, `..`, NUL or other control characters, and ids longer than 200 bytes of
    UTF-8.
    """
    if not isinstance(entry_id, str):
        raise InputError(f"entry id must be a string, got {type(entry_id).__name__}", field="entry_id")
    shown = ascii(entry_id[:60])
    if not entry_id:
        raise InputError("empty entry id", field="entry_id")
    if len(entry_id.encode("utf-8", errors="surrogatepass")) > MAX_ID_BYTES:
        raise InputError(
            f"entry id {shown}... is longer than {MAX_ID_BYTES} bytes", entry=None, field="entry_id"
        )
    if "/" in entry_id or "\\" in entry_id:
        raise InputError(f"entry id {shown} contains a path separator", field="entry_id")
    if ".." in entry_id:
        raise InputError(f"entry id {shown} contains '..'", field="entry_id")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in entry_id):
        raise InputError(f"entry id {shown} contains a NUL or control character", field="entry_id")
    return entry_id


def child_path(folder: str | os.PathLike, *parts: str | os.PathLike) -> Path:
    """`folder / part / ...`, refused with InputError when the result would lie outside `folder`.

    The check is made on the resolved paths (symlinks followed, `..` collapsed), so neither absolute parts
    nor `..` components can escape. The returned path is the plain join (not resolved).
    """
    base = Path(folder)
    for part in parts:
        if "\x00" in str(part):
            raise InputError(f"path part {ascii(str(part)[:60])} contains NUL", path=base)
    path = base.joinpath(*parts)
    root = base.resolve()
    target = path.resolve()
    if target != root and root not in target.parents:
        raise InputError(
            f"{ascii(str(Path(*parts))[:80])} would lie outside the folder", path=base, field="entry_id"
        )
    return path
