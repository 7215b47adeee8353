"""The one exception type for user mistakes.

A `UserError` is bad input (an unknown map, a typo'd config key, a run folder holding a
different run): the CLI prints its message as one paragraph and exits with code 2, with no
traceback. Anything else that escapes is a bug in the suite and keeps its traceback.

A full disk or a folder the user cannot write is not a bug either: `storage_error` turns
such an `OSError` into a `UserError` that names the file and says what to do, so a cluster
user sees one line instead of a traceback from deep inside torch or the atomic writer.
"""

from __future__ import annotations

import difflib
import errno
from collections.abc import Iterable
from pathlib import Path

# OSError numbers that mean "this storage will not take the write", with what to tell the user.
STORAGE_ERRNOS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("the disk is full", "free some space and run the same command again"),
    errno.EDQUOT: ("the disk quota is exceeded", "free some space and run the same command again"),
    errno.EROFS: ("the file system is read-only", "choose a writable folder (--out, --results, --figures)"),
    errno.EACCES: ("permission denied", "choose a folder you can write (--out, --results, --figures)"),
    errno.EPERM: ("operation not permitted", "choose a folder you can write (--out, --results, --figures)"),
}


class UserError(Exception):
    """Bad input from the user; the message says what was wrong and what is valid."""


def did_you_mean(word: str, valid: Iterable[str]) -> str:
    """A ' Did you mean X?' hint (or '') for a misspelt name among `valid`."""
    close = difflib.get_close_matches(str(word), [str(v) for v in valid], n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def choice_error(kind: str, value: object, valid: Iterable[str]) -> UserError:
    """A UserError for a value that is not one of a fixed set of names."""
    valid = sorted(str(v) for v in valid)
    return UserError(
        f"Unknown {kind} '{value}'.{did_you_mean(str(value), valid)} Valid {kind}s: {', '.join(valid)}."
    )


def storage_cause(err: BaseException | None) -> OSError | None:
    """The OSError that `storage_error` explains (disk full, read-only, no permission) behind
    `err`, or None. Looks down the exception chain: torch.save, for one, turns the OSError of
    a full disk into a RuntimeError when it then fails to close its zip archive."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError) and err.errno in STORAGE_ERRNOS:
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def is_storage_error(err: BaseException) -> bool:
    """Whether `err` (or an exception it arose from) is one that `storage_error` explains."""
    return storage_cause(err) is not None


def storage_error(path: str | Path, err: BaseException) -> UserError:
    """A one-line UserError for a write to `path` that the storage refused (see STORAGE_ERRNOS).

    Writes are atomic (temp file, then rename), so the file that was there before is intact;
    the message says so, because "is my last checkpoint gone?" is the first thing one asks.
    """
    err = storage_cause(err) or err
    if not isinstance(err, OSError):
        return UserError(f"cannot write '{path}': {err}.")
    what, todo = STORAGE_ERRNOS.get(err.errno or 0, (err.strerror or str(err), "check the folder and try again"))
    return UserError(f"cannot write '{path}': {what} ([Errno {err.errno}] {err.strerror or err}). "
                     f"Files already written are unchanged; {todo}.")
