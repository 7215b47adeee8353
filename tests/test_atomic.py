"""pps.atomic.atomic_folder: a folder appears whole or not at all, and replaces an old one only
when asked (file writes are tested with the cluster manners, tests/test_shared_cluster.py)."""

from __future__ import annotations

import errno
import os

import pytest

from pps import atomic
from pps.errors import UserError


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_folder_appears_whole_with_no_temporary_left(tmp_path):
    with atomic.atomic_folder(tmp_path / "deep" / "set") as tmp:
        assert tmp.parent == tmp_path / "deep" and tmp.name.startswith(".set.") and _names(tmp) == []
        (tmp / "a.csv").write_text("a\n")
        assert not (tmp_path / "deep" / "set").exists()
    assert _names(tmp_path / "deep") == ["set"] and _names(tmp_path / "deep" / "set") == ["a.csv"]


def test_an_error_or_ctrl_c_leaves_nothing(tmp_path):
    for error in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(error)), atomic.atomic_folder(tmp_path / "set") as tmp:
            (tmp / "half.csv").write_text("a\n")
            raise error
    assert _names(tmp_path) == []


def test_an_old_folder_is_replaced_only_when_empty_or_asked(tmp_path):
    (tmp_path / "set").mkdir()
    with atomic.atomic_folder(tmp_path / "set") as tmp:  # empty: taken
        (tmp / "new.csv").write_text("1\n")
    with pytest.raises(OSError), atomic.atomic_folder(tmp_path / "set") as tmp:  # holds files: kept
        (tmp / "newer.csv").write_text("2\n")
    assert _names(tmp_path) == ["set"] and _names(tmp_path / "set") == ["new.csv"]
    with atomic.atomic_folder(tmp_path / "set", replace=True) as tmp:
        (tmp / "newer.csv").write_text("2\n")
    assert _names(tmp_path) == ["set"] and _names(tmp_path / "set") == ["newer.csv"]


def test_a_refused_rename_is_one_user_error_and_the_old_folder_stays(tmp_path, monkeypatch):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "old.csv").write_text("0\n")
    real = os.rename

    def refuse_the_new_one(src, dst):
        if str(src).endswith(".tmp"):
            raise OSError(errno.EACCES, "Permission denied")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "rename", refuse_the_new_one)
    with pytest.raises(UserError, match="permission denied"), atomic.atomic_folder(tmp_path / "set", replace=True):
        pass
    assert _names(tmp_path) == ["set"] and _names(tmp_path / "set") == ["old.csv"]
