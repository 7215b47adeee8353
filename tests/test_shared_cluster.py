"""Manners on a shared cluster: readable outputs, one trainer per run folder, and one line (no
traceback, nothing already written lost) for a full disk, a read-only folder, a damaged
checkpoint, a buffer larger than memory and an unknown baseline.

Disk full and read-only are simulated by making the write calls fail with the errno the
kernel would give (the tests run as root, which chmod does not stop).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pps import atomic, run_lock
from pps.cli import main
from pps.errors import UserError
from pps.train import Trainer
from tests.helpers.interrupting import iteration_interrupted_after
from tests.helpers.synthetic_runs import write_run

SETS = {"t_max": 1000, "eval_interval": 250, "eval_episodes": 4, "batch_size": 4, "n_envs": 4, "buffer_size": 100,
        "target_update_interval": 20, "epsilon_anneal_steps": 500, "checkpoint_interval": 300}
CELL = ["--env", "mpe", "--map", "simple_spread_v3", "--method", "qmix", "--seed", "0", "--quiet"]


def train_args(out: Path, **overrides) -> list[str]:
    sets = [a for k, v in {**SETS, **overrides}.items() for a in ("--set", f"{k}={v}")]
    return ["train", *CELL, *sets, "--out", str(out)]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones included) by its content hash."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory) -> Path:
    """A run folder stopped after its first checkpoint: checkpoint.pt, run.json, metrics.csv.partial."""
    out = tmp_path_factory.mktemp("interrupted") / "run"
    real = Trainer.iteration
    Trainer.iteration = iteration_interrupted_after(5)
    try:
        assert main(train_args(out)) == 130
    finally:
        Trainer.iteration = real
    assert (out / "checkpoint.pt").is_file() and (out / "metrics.csv.partial").is_file()
    return out


@pytest.fixture
def run_copy(interrupted_run, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(interrupted_run, out)
    return out


# ---------------------------------------------------------------- permissions
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_outputs_honour_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic.write_text(tmp_path / "table.csv", "a,b\n")
        atomic.write_with(tmp_path / "model.pt", lambda f: torch.save({"w": torch.zeros(2)}, f))
        atomic.write_text(tmp_path / "table.csv", "a,b\n1,2\n")  # a replaced file too
    finally:
        os.umask(old)
    for name in ("table.csv", "model.pt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------- one trainer per folder
HOLDER = """
import sys, time
from pps import run_lock
with run_lock.hold(sys.argv[1]):
    print("holding", flush=True)
    time.sleep(600)
"""


def test_a_second_trainer_of_one_folder_stops_with_one_line_naming_the_holder(run_copy, capsys):
    before = snapshot(run_copy)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_copy)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert main(train_args(run_copy)) == 2
        err = one_line_error(capsys)
        assert f"pid {holder.pid} on host {socket.gethostname()}" in err and str(run_copy) in err
        assert {k: v for k, v in snapshot(run_copy).items() if k != run_lock.LOCK_FILE} == before
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: no clean-up runs
        holder.wait()
    assert (run_copy / run_lock.LOCK_FILE).exists()  # left behind by the crash, and harmless:
    with run_lock.hold(run_copy):  # the kernel released the lock with the process
        assert f'"pid": {os.getpid()}' in (run_copy / run_lock.LOCK_FILE).read_text()
    assert not (run_copy / run_lock.LOCK_FILE).exists()  # a holder that ends normally removes it


@pytest.mark.slow
def test_a_trainer_holds_its_folders_lock_while_it_trains_and_releases_it(run_copy, capsys, monkeypatch):
    seen: list[str] = []
    real = Trainer.iteration

    def iteration(self):
        if not seen:
            with pytest.raises(UserError) as taken:
                with run_lock.hold(run_copy):
                    pass
            seen.append(str(taken.value))
        real(self)

    monkeypatch.setattr(Trainer, "iteration", iteration)
    assert main(train_args(run_copy)) == 0
    assert len(seen) == 1 and f"pid {os.getpid()}" in seen[0]
    assert not (run_copy / run_lock.LOCK_FILE).exists() and (run_copy / "metrics.csv").is_file()


def test_a_held_lock_refuses_a_fresh_folder_without_writing_there(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with run_lock.hold(out):
        assert main(train_args(out)) == 2
        assert f"pid {os.getpid()}" in one_line_error(capsys)
        assert sorted(p.name for p in out.iterdir()) == [run_lock.LOCK_FILE]  # nothing else written


# ---------------------------------------------------------------- disk full, read-only
def _fail(err_no: int):
    def raiser(*args, **kwargs):
        raise OSError(err_no, os.strerror(err_no))
    return raiser


class _FillsUp(io.RawIOBase):
    """A file on a disk that fills up after `room` bytes."""

    def __init__(self, f, room: int = 4096) -> None:
        self.f, self.room = f, room

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        if len(b) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(b)
        return self.f.write(b)


def _save_onto_a_full_disk(real_save):
    """torch.save as it meets a full disk (measured on a 200 KiB tmpfs): the write's OSError,
    then a RuntimeError from closing the zip archive, with the OSError as its context."""
    return lambda obj, f, *args, **kwargs: real_save(obj, _FillsUp(f), *args, **kwargs)


@pytest.mark.slow
def test_disk_full_while_checkpointing_is_one_line_and_keeps_the_last_checkpoint(run_copy, capsys, monkeypatch):
    before = snapshot(run_copy)
    monkeypatch.setattr(torch, "save", _save_onto_a_full_disk(torch.save))
    assert main(train_args(run_copy)) == 2
    err = one_line_error(capsys)
    assert "disk is full" in err and str(run_copy / "checkpoint.pt") in err and "run the same command again" in err
    after = snapshot(run_copy)
    assert after["checkpoint.pt"] == before["checkpoint.pt"]  # the last good checkpoint is intact
    assert not list(run_copy.glob(".*.tmp")) and run_lock.LOCK_FILE not in after
    monkeypatch.undo()
    assert main(train_args(run_copy)) == 0  # space is back: the same command resumes and finishes
    assert (run_copy / "metrics.csv").is_file()


@pytest.mark.parametrize("err_no, words", [(errno.ENOSPC, "disk is full"), (errno.EDQUOT, "quota")])
def test_disk_full_at_the_first_write_changes_nothing(run_copy, capsys, monkeypatch, err_no, words):
    before = snapshot(run_copy)
    monkeypatch.setattr(os, "fsync", _fail(err_no))  # every atomic write fails before its rename
    assert main(train_args(run_copy)) == 2
    assert words in one_line_error(capsys)
    assert snapshot(run_copy) == before


@pytest.mark.parametrize("err_no, words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_a_folder_that_cannot_be_written_is_one_line_and_changes_nothing(run_copy, capsys, monkeypatch,
                                                                         err_no, words):
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and str(path).startswith(str(run_copy)):
            raise OSError(err_no, os.strerror(err_no), str(path))
        return real_open(path, flags, *args, **kwargs)

    before = snapshot(run_copy)
    monkeypatch.setattr(os, "open", refusing_open)
    assert main(train_args(run_copy)) == 2
    err = one_line_error(capsys)
    assert words in err and str(run_copy) in err
    assert snapshot(run_copy) == before


REAL_FS = r"""
set -u
mount -t tmpfs -o size=200k tmpfs "$1" || exit 77
"$PY" -m pps "${@:3}" --out "$1/run" 2> "$2/full.err"; echo "$?" > "$2/full.rc"
ls -a "$1/run" > "$2/full.ls"
umount "$1" && mount -t tmpfs tmpfs "$1" && cp -a "$2/interrupted" "$1/run" && mount -o remount,ro "$1" || exit 77
"$PY" -m pps "${@:3}" --out "$1/run" 2> "$2/ro.err"; echo "$?" > "$2/ro.rc"
cd "$1/run" && sha256sum checkpoint.pt run.json metrics.csv.partial > "$2/ro.sums"
"""


@pytest.mark.slow
def test_a_real_full_disk_and_a_real_read_only_folder(interrupted_run, tmp_path):
    """The same two faults on real tmpfs mounts, where `unshare -m` lets us make them (root)."""
    if not shutil.which("unshare") or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        pytest.skip("needs unshare -m (a private mount namespace) to mount a small tmpfs")
    mnt, logs = tmp_path / "mnt", tmp_path / "logs"
    mnt.mkdir(), logs.mkdir()
    shutil.copytree(interrupted_run, logs / "interrupted")
    args = train_args(Path("X"))[:-2]
    done = subprocess.run(["unshare", "-m", "bash", "-c", REAL_FS, "real-fs", str(mnt), str(logs), *args],
                          env={**os.environ, "PY": sys.executable}, capture_output=True, text=True, timeout=300)
    if done.returncode == 77:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:200]}")
    full = (logs / "full.err").read_text().strip()
    assert (logs / "full.rc").read_text().strip() == "2" and len(full.splitlines()) == 1, full
    assert "disk is full" in full and "checkpoint.pt" in full
    assert not [n for n in (logs / "full.ls").read_text().split() if n.endswith(".tmp")]
    ro = (logs / "ro.err").read_text().strip()
    assert (logs / "ro.rc").read_text().strip() == "2" and len(ro.splitlines()) == 1, ro
    assert "read-only" in ro
    before = {name: hashlib.sha256((interrupted_run / name).read_bytes()).hexdigest()
              for name in ("checkpoint.pt", "run.json", "metrics.csv.partial")}
    after = dict(reversed(line.split()) for line in (logs / "ro.sums").read_text().splitlines())
    assert after == before


# ---------------------------------------------------------------- damaged checkpoint
@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_checkpoint_is_named_with_how_to_restart_and_nothing_changes(run_copy, capsys, damage):
    ckpt = run_copy / "checkpoint.pt"
    data = ckpt.read_bytes()
    ckpt.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00not a checkpoint" * 50,
                      "empty": b""}[damage])
    before = snapshot(run_copy)
    assert main(train_args(run_copy)) == 2
    err = one_line_error(capsys)
    assert str(ckpt) in err and "damaged" in err and "Delete it" in err
    assert snapshot(run_copy) == before
    if damage == "truncated":  # the advice works: without the checkpoint the run starts over and finishes
        ckpt.unlink()
        assert main(train_args(run_copy)) == 0
        assert (run_copy / "metrics.csv").is_file()


# ---------------------------------------------------------------- memory
def test_a_buffer_larger_than_memory_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "nested" / "run"
    assert main(train_args(out, buffer_size=10**9)) == 2  # ~5 TB of replay
    err = one_line_error(capsys)
    assert "needs about" in err and "buffer_size=1000000000" in err and "Nothing was written" in err
    assert not (tmp_path / "nested").exists()


def test_the_memory_check_counts_every_run_of_a_group_and_can_be_skipped(tmp_path, capsys, monkeypatch):
    from pps import host_memory
    from pps.memory import train_memory_bytes

    one = train_memory_bytes("mpe", "simple_spread_v3", 100, 4)["total"]
    monkeypatch.setattr(host_memory, "available_bytes", lambda: (int(2.5 * one), "test"))
    group = ["train", *CELL[:6], "--seeds", "0", "1", "2", "--quiet",
             *[a for k, v in SETS.items() for a in ("--set", f"{k}={v}")], "--out", str(tmp_path / "g")]
    assert main(group) == 2
    assert "x 3 runs" in one_line_error(capsys) and not (tmp_path / "g").exists()
    monkeypatch.setenv(host_memory.SKIP_ENV, "off")
    host_memory.check_fits([])  # nothing to check
    from pps.config import resolve_config

    host_memory.check_fits([resolve_config(SETS, {}, {"env": "mpe", "map": "simple_spread_v3", "seed": s})
                            for s in range(3)])  # skipped: no error


def test_available_memory_is_known_on_linux():
    from pps import host_memory

    found = host_memory.available_bytes()
    if sys.platform.startswith("linux"):
        assert found is not None and found[0] > 0


# ---------------------------------------------------------------- analysis commands
def test_stats_with_an_unknown_baseline_exits_2_and_writes_nothing(tmp_path, capsys):
    runs, res = tmp_path / "runs", tmp_path / "results"
    for seed in range(2):
        write_run(runs, method="qmix", seed=seed, win=0.5)
        write_run(runs, method="a-pps", interval=300, seed=seed, win=0.6)
    assert main(["aggregate", "--runs", str(runs), "--out", str(res)]) == 0
    assert main(["stats", "--results", str(res)]) == 0
    capsys.readouterr()
    before = snapshot(res)
    assert main(["stats", "--results", str(res), "--baseline", "qmx"]) == 2
    err = one_line_error(capsys)
    assert "Unknown baseline method 'qmx'" in err and "Did you mean 'qmix'?" in err
    assert snapshot(res) == before
    assert main(["overhead", "--runs", str(runs), "--out", str(tmp_path / "o"), "--baseline", "qmx"]) == 2
    assert "Did you mean 'qmix'?" in one_line_error(capsys) and not (tmp_path / "o").exists()


# ---------------------------------------------------------------- entry points
def test_version_and_python_m_pps(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"pps-bench {version('pps-bench')}"
    run = subprocess.run([sys.executable, "-m", "pps", "--version"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == f"pps-bench {version('pps-bench')}"
    listed = subprocess.run([sys.executable, "-m", "pps", "maps"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "3m" in listed.stdout


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_the_memory_room_is_the_tightest_limit_above_the_process_less_reclaimable_cache(tmp_path, monkeypatch, version):
    """A batch scheduler sets the limit on the job's cgroup, with the step's leaf below it
    unlimited; the page cache counted in a cgroup's usage is reclaimable, not used up."""
    from pps import host_memory

    if version == "v2":
        root, proc = tmp_path, "0::/job/step\n"
        files = {"job": {"memory.max": "1000", "memory.current": "900", "memory.stat": "anon 400\nfile 500\n"},
                 "job/step": {"memory.max": "max", "memory.current": "100", "memory.stat": "file 0\n"}}
    else:
        root, proc = tmp_path / "memory", "4:memory:/job/step\n"
        files = {"job": {"memory.limit_in_bytes": "1000", "memory.usage_in_bytes": "900",
                         "memory.stat": "total_inactive_file 500\n"},
                 "job/step": {"memory.limit_in_bytes": str(2**63 - 4096), "memory.usage_in_bytes": "100"}}
    for folder, contents in files.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, text in contents.items():
            (root / folder / name).write_text(text)
    (tmp_path / "cgroup").write_text(proc)
    monkeypatch.setattr(host_memory, "_CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(host_memory, "_PROC_CGROUP", tmp_path / "cgroup")
    assert host_memory._cgroup_room() == 1000 - (900 - 500)


def test_a_file_system_without_locks_trains_on_with_one_warning(tmp_path, monkeypatch, capsys):
    """Lustre without -o flock or NFS without lockd answer flock with ENOLCK: a warning, not a
    traceback, and the folder is still usable (and its lock file cleaned up)."""
    import errno as errno_module
    import fcntl

    from pps import run_lock

    def no_locks(fd, op):
        raise OSError(errno_module.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    (tmp_path / "run").mkdir()
    with run_lock.hold_all([tmp_path / "run"]):
        assert (tmp_path / "run" / run_lock.LOCK_FILE).exists()
    assert "without file locks" in capsys.readouterr().err
    assert not (tmp_path / "run" / run_lock.LOCK_FILE).exists()
