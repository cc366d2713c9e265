"""Where lstmctl writes: nothing that is not its own is ever replaced, --force or not.

``--force`` replaces a model directory (its manifest.json is lstmctl's) and
nothing else; an empty folder may be used; a run directory is always new;
``--plot FILE`` replaces only an earlier PNG. Every target is checked before
any work, a refusal is one line on stderr (exit 2), and a folder keeps its
contents byte for byte and its mode.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Any

import lifecycle_fixtures as fx
import numpy as np
import pytest
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.errors import ModelDirError, UsageError
from lstmctl.modeldir.format import open_model_dir
from lstmctl.modeldir.writing import check_target, write_model_dir
from lstmctl.report.plots import box_plot
from lstmctl.rundir import create_run_dir
from lstmctl.targets import check_plot_target

# The session's saved models (see lifecycle_fixtures), bound here for pytest to find.
lifecycle_dir = fx.lifecycle_dir
saved_plain = fx.saved_plain

runner = CliRunner()


def snapshot(folder: Path) -> dict[str, Any]:
    """Every entry under ``folder`` with its bytes and mode, and the folder's own mode."""
    entries: dict[str, Any] = {".": stat.S_IMODE(folder.stat().st_mode)}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        mode = stat.S_IMODE(p.lstat().st_mode)
        entries[rel] = (mode, p.read_bytes() if p.is_file() else None)
    return entries


def one_error_line(r: Any) -> str:
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("lstmctl: error: ")
    return lines[0]


def tiny_model_writers() -> dict[str, Any]:
    """Writers of a minimal model directory (no training: write_model_dir checks only names)."""

    def write(p: Path) -> None:
        if p.name == "model.keras":  # opening checks the archive: a minimal one
            with zipfile.ZipFile(p, "w") as zf:
                zf.writestr("config.json", "{}")
                zf.writestr("model.weights.h5", b"")
        else:
            p.write_text(f"{p.name}\n")

    return {"spec.yaml": write, "preprocess.json": write, "model.keras": write}


# ------------------------------------------------------------ finalize --force


def sandbox(tmp_path: Path) -> Path:
    """The issue's folder: the spec and its CSV, with a mode of its own (0750)."""
    folder = tmp_path / "sandbox"
    folder.mkdir()
    csv = fx.series_csv(folder / "s.csv", n=30)
    fx.spec_file(folder / "s.yaml", csv)
    folder.chmod(0o750)
    return folder


def test_force_never_replaces_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    mydir = tmp_path / "mydir"
    mydir.mkdir(mode=0o700)
    (mydir / "notes.txt").write_text("keep\n")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "manifest.json").write_text('{"format": "someone-else"}\n')
    before = {d: snapshot(d) for d in (box, mydir, foreign)}
    csv_bytes = (box / "s.csv").read_bytes()
    listing = sorted(p.name for p in tmp_path.iterdir())

    for target, found in [
        (box, "s.csv, s.yaml"),
        (mydir, "notes.txt"),
        (foreign, "not lstmctl's (format 'someone-else')"),
    ]:
        r = runner.invoke(app, ["finalize", str(box / "s.yaml"), "--out", str(target), "--force"])
        line = one_error_line(r)
        assert f"{target}: expected a new name, an empty folder or a model directory" in line
        assert found in line and "--force replaces only model directories" in line
    # A file is no model directory either: refused, with or without --force.
    for extra in ([], ["--force"]):
        r = runner.invoke(
            app, ["finalize", str(box / "s.yaml"), "--out", str(box / "s.csv"), *extra]
        )
        assert "found a file" in one_error_line(r)

    assert {d: snapshot(d) for d in (box, mydir, foreign)} == before  # bytes and modes
    assert (box / "s.csv").read_bytes() == csv_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no temporary folder left


def test_force_replaces_a_real_model_directory_and_keeps_its_mode(
    saved_plain: Path, lifecycle_dir: Path, tmp_path: Path
) -> None:
    model = tmp_path / "saved" / "plain"
    shutil.copytree(saved_plain, model)
    model.chmod(0o750)
    old = json.loads((model / "manifest.json").read_text())["created"]
    spec = lifecycle_dir / "plain.yaml"

    r = runner.invoke(app, ["finalize", str(spec), "--out", str(model), "--no-onnx"])
    assert "use --force to replace it" in one_error_line(r)

    r = runner.invoke(app, ["finalize", str(spec), "--out", str(model), "--force", "--no-onnx"])
    assert r.exit_code == 0, r.stderr
    md = open_model_dir(model)
    assert md.manifest["created"] >= old
    assert stat.S_IMODE(model.stat().st_mode) == 0o750
    assert sorted(p.name for p in model.parent.iterdir()) == ["plain"]


def test_a_model_directory_with_files_of_the_users_is_not_replaced(
    saved_plain: Path, tmp_path: Path
) -> None:
    model = tmp_path / "plain"
    shutil.copytree(saved_plain, model)
    (model / "notes.txt").write_text("my notes\n")
    before = snapshot(model)
    with pytest.raises(UsageError, match="files its manifest does not list: notes.txt"):
        check_target(model, force=True)
    new_rows = tmp_path / "new.csv"
    new_rows.write_text("month,sales\n2004-01,199.5\n")
    base = ["update", "--model", str(model), "--data", str(new_rows), "--epochs", "1"]
    r = runner.invoke(app, [*base, "--in-place"])
    assert "notes.txt" in one_error_line(r)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("keep\n")
    r = runner.invoke(app, [*base, "--out", str(other), "--force"])
    assert f"{other}: expected a new name" in one_error_line(r)
    assert snapshot(model) == before and (other / "keep.txt").read_text() == "keep\n"


def test_an_empty_folder_is_used_and_keeps_its_mode(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    empty.chmod(0o711)
    write_model_dir(empty, tiny_model_writers(), {})  # no --force needed: nothing to lose
    open_model_dir(empty)
    assert stat.S_IMODE(empty.stat().st_mode) == 0o711
    # A new folder gets the mode mkdir gives (not mkdtemp's private 0700).
    new = tmp_path / "new"
    write_model_dir(new, tiny_model_writers(), {})
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o777 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "new"]


def test_what_is_moved_aside_is_checked_again(tmp_path: Path) -> None:
    # A file that lands in the (empty, checked) target while the model is written
    # is the user's: the swap refuses, and the file stays where it was.
    target = tmp_path / "target"
    target.mkdir()
    writers = tiny_model_writers()
    first = writers["spec.yaml"]

    def meanwhile(p: Path) -> None:
        (target / "notes.txt").write_text("written meanwhile\n")
        first(p)

    writers["spec.yaml"] = meanwhile
    with pytest.raises(UsageError, match="notes.txt"):
        write_model_dir(target, writers, {}, force=True)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_a_symbolic_link_is_not_replaced(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write_model_dir(real, tiny_model_writers(), {})
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(UsageError, match="found a symbolic link"):
        check_target(link, force=True)
    assert link.is_symlink()


# ------------------------------------------------------------ --plot files


def fake_run(root: Path, folder: str, values: list[float]) -> Path:
    d = root / folder
    (d / "history").mkdir(parents=True)
    results = {
        "name": folder.rsplit("-", 2)[0],
        "arch": "vanilla",
        "repeats": len(values),
        "metrics": {"rmse": {"mean": float(np.mean(values)), "values": values}},
        "baselines": {"persistence": {"rmse": 120.0}},
        "per_repeat": [],
        "failed": [],
        "test_windows": 12,
        "complete": True,
        "seconds": 1.0,
    }
    (d / "results.json").write_text(json.dumps(results))
    (d / "spec.yaml").write_text("name: x\nmodel: {arch: vanilla}\n")
    return d


def test_runs_compare_plot_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    a = fake_run(runs, "a-20260101-000000", [100.0, 101.0, 99.0, 102.0])
    b = fake_run(runs, "b-20260101-000001", [90.0, 91.0, 89.0, 92.0])
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    Path("DIR").mkdir()
    Path("notes.txt").write_text("not a plot\n")
    before = snapshot(work)
    base = ["runs", "compare", str(a), str(b)]

    # A folder: refused before the table is printed, no traceback, no .DIR.tmp left.
    line = one_error_line(runner.invoke(app, [*base, "--plot", "DIR"]))
    assert line == "lstmctl: error: DIR: --plot: expected a PNG file to write, found a directory"
    # A file that is not a PNG is not overwritten; a missing folder is not created.
    line = one_error_line(runner.invoke(app, [*base, "--plot", "notes.txt"]))
    assert "notes.txt: --plot: expected a new file or an earlier PNG" in line
    line = one_error_line(runner.invoke(app, [*base, "--plot", "nowhere/cmp.png"]))
    assert "nowhere: --plot: expected an existing folder to write cmp.png in, found nothing" in line
    assert snapshot(work) == before

    # A new file, then the same file again (an earlier plot is replaced).
    for _ in range(2):
        r = runner.invoke(app, [*base, "--plot", "cmp.png"])
        assert r.exit_code == 0, r.stderr
        assert "B better" in r.stdout and "plot: cmp.png" in r.stderr
        assert Path("cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in work.iterdir()) == ["DIR", "cmp.png", "notes.txt"]


def test_a_failed_plot_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "box.png").mkdir()
    with pytest.raises(OSError):
        box_plot({"a": [1.0, 2.0, 3.0]}, tmp_path / "box.png")
    assert [p.name for p in tmp_path.iterdir()] == ["box.png"]
    with pytest.raises(UsageError, match="found a directory"):
        check_plot_target(tmp_path / "box.png")


def test_tune_plot_is_checked_before_the_study(tmp_path: Path, tiny_csv: Path) -> None:
    from conftest import tiny_raw_spec, write_spec

    raw = {**tiny_raw_spec(tmp_path, tiny_csv), "tune": {"space": {"model.units": [2, 4]}}}
    spec = write_spec(tmp_path / "tune.yaml", raw)
    (tmp_path / "DIR").mkdir()
    r = runner.invoke(app, ["tune", str(spec), "--plot", str(tmp_path / "DIR")])
    assert "DIR: --plot: expected a PNG file to write, found a directory" in one_error_line(r)
    assert not (tmp_path / "runs").exists()  # no study was started


# ------------------------------------------------------------ run directories


def test_a_runs_folder_that_is_a_file_is_refused_before_training(
    tmp_path: Path, tiny_spec: Path
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("keep\n")
    for cmd in (["run"], ["diagnose"]):
        r = runner.invoke(app, [*cmd, str(tiny_spec), "--out", str(taken)])
        assert f"{taken}: expected a runs folder, found a file" in one_error_line(r)
    assert taken.read_text() == "keep\n"


def test_run_directories_are_always_new(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    root.mkdir(mode=0o750)
    root.chmod(0o750)
    (root / "notes.txt").write_text("keep\n")
    made = {create_run_dir(root, "x") for _ in range(3)}
    assert len(made) == 3 and all(list(d.iterdir()) == [d / "history"] for d in made)
    assert (root / "notes.txt").read_text() == "keep\n"
    assert stat.S_IMODE(root.stat().st_mode) == 0o750
    with pytest.raises(ModelDirError, match="expected a folder, found a file"):
        check_target(root / "notes.txt" / "m")
