"""Run directories: unique names, atomic, readable files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lstmctl.errors import UsageError
from lstmctl.rundir import create_run_dir, csv_text, write_atomic


def test_write_atomic_replaces_whole_and_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_atomic(path, "old")
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert os.stat(path).st_mode & stat.S_IROTH  # a colleague can read the report
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_write_atomic_failure_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_atomic(path, "old")

    with pytest.raises(TypeError):
        write_atomic(path, object())  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_run_dirs_are_unique_within_the_same_second(tmp_path: Path) -> None:
    dirs = {create_run_dir(tmp_path, "same name/with slash") for _ in range(5)}
    assert len(dirs) == 5
    assert all(d.parent == tmp_path and (d / "history").is_dir() for d in dirs)
    assert all(d.name.startswith("same-name-with-slash-") for d in dirs)


def test_unwritable_runs_folder_fails_before_any_work(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(UsageError, match="not writable"):
            create_run_dir(locked, "x")
    finally:
        locked.chmod(0o700)


def test_csv_text() -> None:
    assert csv_text([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]) == "a,b\n1,x\n2,y\n"
    assert csv_text([]) == ""


def test_runs_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(UsageError) as e:
        create_run_dir(blocker / "runs", "x")
    assert str(blocker / "runs") in str(e.value)
