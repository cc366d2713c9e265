"""Model directories: what finalize writes, and what loading refuses."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import lifecycle_fixtures as fx
import pytest
from lifecycle_fixtures import series_csv, spec_file
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.errors import ModelDirError
from lstmctl.modeldir.format import open_model_dir
from lstmctl.modeldir.writing import write_model_dir

# The session's saved models (see lifecycle_fixtures), bound here for pytest to find.
lifecycle_dir = fx.lifecycle_dir
saved_plain = fx.saved_plain
saved_stateful = fx.saved_stateful


def copy_of(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def test_finalize_writes_a_complete_verified_directory(saved_plain: Path) -> None:
    files = {p.name for p in saved_plain.iterdir()}
    assert files == {"manifest.json", "spec.yaml", "model.keras", "preprocess.json", "data.csv"}
    manifest = json.loads((saved_plain / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert {"lstmctl", "keras", "numpy", "backend"} <= set(manifest["versions"])
    assert manifest["created"].endswith("Z")
    assert manifest["inputs"][0]["shape"] == [None, 3, 1]
    assert manifest["outputs"][0]["shape"] == [None, 1, 1]
    for name, entry in manifest["files"].items():
        digest = hashlib.sha256((saved_plain / name).read_bytes()).hexdigest()
        assert entry["sha256"] == digest
    # All 48 rows were trained on (no test part): 48 - 1 (difference) - 3 (lookback) windows.
    assert manifest["trained"]["windows"] == 44
    assert manifest["trained"]["seed"] == 3
    pre = json.loads((saved_plain / "preprocess.json").read_text())
    assert pre["tail"]["labels"] == ["2003-09", "2003-10", "2003-11", "2003-12"]
    assert pre["time"]["freq"] == "MS"
    assert set(pre["scale"]["targets"]["columns"]) == {"sales"}
    md = open_model_dir(saved_plain)
    assert md.spec().data.split.test == 6  # the spec as written; finalize dropped the test part
    model = md.load_keras()
    assert len(model.inputs) == 1


def test_modified_model_file_is_refused(saved_plain: Path, tmp_path: Path) -> None:
    d = copy_of(saved_plain, tmp_path)
    data = bytearray((d / "model.keras").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (d / "model.keras").write_bytes(bytes(data))
    with pytest.raises(ModelDirError, match="modified after it was saved") as e:
        open_model_dir(d)
    assert e.value.exit_code == 2 and e.value.where == str(d / "model.keras")


def test_edited_preprocess_is_refused(saved_plain: Path, tmp_path: Path) -> None:
    d = copy_of(saved_plain, tmp_path)
    pre = json.loads((d / "preprocess.json").read_text())
    pre["scale"]["targets"]["columns"]["sales"]["scale"] *= 2
    (d / "preprocess.json").write_text(json.dumps(pre))
    with pytest.raises(ModelDirError, match="modified") as e:
        open_model_dir(d)
    assert e.value.where is not None and e.value.where.endswith("preprocess.json")


def test_missing_file_and_foreign_directory_are_refused(saved_plain: Path, tmp_path: Path) -> None:
    d = copy_of(saved_plain, tmp_path)
    (d / "data.csv").unlink()
    with pytest.raises(ModelDirError, match="incomplete"):
        open_model_dir(d)
    (d / "manifest.json").unlink()
    with pytest.raises(ModelDirError, match="not an lstmctl model directory"):
        open_model_dir(d)
    with pytest.raises(ModelDirError, match="not found"):
        open_model_dir(tmp_path / "nowhere")


def test_newer_format_is_refused(saved_plain: Path, tmp_path: Path) -> None:
    d = copy_of(saved_plain, tmp_path)
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["format_version"] = 99
    manifest["versions"]["lstmctl"] = "9.0.0"
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelDirError, match=r"lstmctl 9\.0\.0 in model format 99.*upgrade"):
        open_model_dir(d)


def test_cli_refuses_a_tampered_directory_in_one_line(saved_plain: Path, tmp_path: Path) -> None:
    d = copy_of(saved_plain, tmp_path)
    (d / "spec.yaml").write_text((d / "spec.yaml").read_text() + "\n# edited\n")
    res = CliRunner().invoke(app, ["predict", "--model", str(d), "--horizon", "2"])
    assert res.exit_code == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "spec.yaml" in lines[0] and "modified" in lines[0]


def test_a_failed_save_leaves_nothing_behind(tmp_path: Path) -> None:
    def ok(p: Path) -> None:
        if p.name == "model.keras":  # opening checks the archive: a minimal one
            with zipfile.ZipFile(p, "w") as zf:
                zf.writestr("config.json", "{}")
                zf.writestr("model.weights.h5", b"")
        else:
            p.write_text("x")

    def boom(p: Path) -> None:
        p.write_text("half")
        raise OSError("disk full")

    target = tmp_path / "saved" / "m"
    writers = {"spec.yaml": ok, "preprocess.json": ok, "model.keras": boom}
    with pytest.raises(OSError, match="disk full"):
        write_model_dir(target, writers, {})
    assert not target.exists()
    assert list((tmp_path / "saved").iterdir()) == []  # no temporary directory left

    # Replacing an existing model (--force) that fails keeps the old one whole.
    write_model_dir(target, {"spec.yaml": ok, "preprocess.json": ok, "model.keras": ok}, {})
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(OSError):
        write_model_dir(target, writers, {}, force=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["m"]
    open_model_dir(target)


def test_existing_target_needs_force_before_any_training(
    saved_plain: Path, lifecycle_dir: Path
) -> None:
    spec = lifecycle_dir / "plain.yaml"
    res = CliRunner().invoke(app, ["finalize", str(spec), "--out", str(saved_plain)])
    assert res.exit_code == 2
    assert "--force" in res.stderr and res.stdout == ""


def test_finalize_cli_reports_json(tmp_path: Path) -> None:
    csv = series_csv(tmp_path / "s.csv", n=30)
    spec = spec_file(tmp_path / "s.yaml", csv)
    out = tmp_path / "saved" / "s"
    res = CliRunner().invoke(
        app, ["finalize", str(spec), "--out", str(out), "--no-onnx", "--format", "json"]
    )
    assert res.exit_code == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["model"] == str(out) and info["onnx"] == {"skipped": "--no-onnx"}
    assert info["trained"]["windows"] == 26
    open_model_dir(out)
