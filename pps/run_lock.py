"""One trainer per run folder: an exclusive `flock` on a lock file inside the folder.

Two processes training into one folder would both write checkpoints and metrics and both
report "finished" (a job resubmitted while the first still runs, two users sharing a
results tree). The first process takes the lock; any other stops at once with one line
naming the holder's pid and host, before it reads or writes anything there.

Why `flock`: the kernel releases it when the holder exits for any reason (including
`kill -9` or a node crash on a local disk), so a lock is never stale and nobody has to
delete anything by hand. On NFS, Linux maps `flock` onto NFS byte-range locks, which hold
across client nodes; Lustre needs to be mounted with `-o flock`. The file holds the
holder's pid, host and start time only to name it in the message; the lock, not the text,
is what excludes. It is removed when the holder finishes normally; a crash leaves it
behind, harmless: the next trainer locks it again.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from pps import provenance
from pps.errors import UserError, is_storage_error, storage_error

LOCK_FILE = ".pps-train.lock"


def _holder(fd: int) -> str:
    """'pid P on host H (since T)' from the lock file's text, or a vaguer phrase if unreadable."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"pid {info['pid']} on host {info['host']} (since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its pid and host are not recorded yet)"


# errors by which flock says the file system cannot lock (as opposed to: someone holds it)
_NO_LOCKING = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def _acquire(folder: Path) -> int:
    """Open and lock `folder`'s lock file; the open descriptor holds the lock."""
    path = folder / LOCK_FILE
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            if is_storage_error(err):
                raise storage_error(path, err) from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise UserError(f"'{folder}' is being trained by {holder}. Wait for it to finish, "
                            f"or stop it first; this process changed nothing there.") from None
        except OSError as err:
            if err.errno not in _NO_LOCKING:
                os.close(fd)
                raise
            # Lustre without -o flock, NFS without lockd, some FUSE mounts: training must not
            # become impossible there, so go on without the lock and say so once
            print(f"pps: warning: '{folder}' is on a file system without file locks ({err.strerror}); "
                  f"training without the lock, so do not train this folder from two processes at once.",
                  file=sys.stderr)
            break
        # The previous holder may have removed the file between our open and our lock:
        # then we hold a lock on a name nobody else sees, so start again with the new file.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    record = {"pid": os.getpid(), "host": provenance.host(), "since": provenance.now()}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    return fd


def _release(folder: Path, fd: int) -> None:
    """Remove the lock file while still holding the lock, then unlock (see `_acquire`)."""
    try:
        (folder / LOCK_FILE).unlink(missing_ok=True)
    except OSError:
        pass  # a folder that turned read-only: the lock still goes with the descriptor
    finally:
        os.close(fd)


@contextmanager
def hold(folder: str | Path) -> Iterator[None]:
    """Hold `folder`'s training lock for the body; UserError naming the holder if it is taken."""
    folder = Path(folder)
    fd = _acquire(folder)
    try:
        yield
    finally:
        _release(folder, fd)


@contextmanager
def hold_all(folders: Sequence[str | Path]) -> Iterator[None]:
    """Hold the training locks of every folder of a run group, or of none (all-or-nothing)."""
    with ExitStack() as stack:
        for folder in folders:
            stack.enter_context(hold(folder))
        yield
