"""Atomic file writes: a reader (or a crash) never sees a half-written file.

Everything the suite writes goes to a temporary file in the target's folder, is flushed
to disk, then renamed over the target (`os.replace` is atomic on POSIX within a folder).

A folder of files that belong together (a reference set, `pps evidence`) is built the same
way, one level up: in a temporary folder beside the target, renamed into place when every
file is written (`atomic_folder`).

Two manners for shared machines:

* Files get the permissions of any file the user creates (0666 minus the umask, so 0644
  by default): `tempfile.mkstemp` would make every output 0600 and hide results from
  collaborators. The temporary file is created with `O_CREAT | O_EXCL`, which is what
  makes `mkstemp` safe, but with mode 0666 so the kernel applies the umask.
* A full disk, a read-only folder or a folder without write permission becomes one
  `UserError` naming the file (`pps.errors.storage_error`); the target is untouched,
  because the rename never happened and the temporary file is removed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pps.errors import is_storage_error, storage_error

_TRIES = 100  # name collisions between concurrent writers of one target are astronomically rare


def _create_temp(path: Path) -> Path:
    """A new, empty file beside `path` whose mode honours the umask (unlike mkstemp's 0600)."""
    for _ in range(_TRIES):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    An OSError that means the storage refused the write (disk full, read-only, permission)
    is raised as a one-line `UserError` naming `path`; anything else propagates unchanged.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temp(path)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:  # a read-only folder may not let us tidy up either
                pass
        if is_storage_error(err):
            raise storage_error(path, err) from None
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_with(path: str | Path, writer: Callable[[IO[bytes]], None]) -> None:
    """Atomically write binary content produced by `writer(file)` (e.g. `torch.save`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        writer(f)


@contextmanager
def atomic_folder(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a new, empty temporary folder beside `path`; on success it becomes `path`, on any
    error (or Ctrl-C) it is removed, so `path` is never half-written.

    An existing empty folder at `path` is replaced; a non-empty one only with `replace`, and
    it is removed only after the new folder is in its place (moved aside first, so a reader
    sees the old folder or the new one, never neither for longer than two renames). Storage
    refusals become a one-line `UserError` as for files.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(_TRIES):
            candidate = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            tmp = candidate
            break
        else:
            raise FileExistsError(f"no free temporary name beside {path}")
        yield tmp
        old = None
        if path.is_dir() and (replace or not any(path.iterdir())):
            old = path.parent / f".{path.name}.{secrets.token_hex(6)}.old"
            os.rename(path, old)
        try:
            os.rename(tmp, path)  # fails if anything is (again) at `path`: that stays as it was
        except BaseException:
            if old is not None:
                os.rename(old, path)
            raise
        tmp = None
        if old is not None:
            shutil.rmtree(old)
    except BaseException as err:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if is_storage_error(err):
            raise storage_error(path, err) from None
        raise
