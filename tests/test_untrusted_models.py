"""Model directories from someone else: refused before anything in them runs.

Each hostile directory below is *re-signed*: its manifest's hashes are made to
match, as an attacker handing over a whole directory would do. What stands
in the way is lstmctl.modeldir.keras_archive (checked when the directory is opened),
then Keras' safe mode.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import lifecycle_fixtures as fx
import pytest
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.errors import ModelDirError
from lstmctl.modeldir.format import open_model_dir
from lstmctl.modeldir.keras_archive import check_keras_archive

lifecycle_dir = fx.lifecycle_dir
saved_plain = fx.saved_plain


def resign(d: Path, name: str) -> None:
    """Make the manifest's sha256 of ``name`` match the file, as an attacker could."""
    manifest = json.loads((d / "manifest.json").read_text())
    data = (d / name).read_bytes()
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (d / "manifest.json").write_text(json.dumps(manifest))


def entries(d: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(d / "model.keras") as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def rewrite_archive(
    saved: Path, tmp_path: Path, edit: Callable[[zipfile.ZipFile, dict[str, bytes]], None]
) -> Path:
    """A copy of ``saved`` whose model.keras is rebuilt by ``edit``, then re-signed."""
    d = tmp_path / "hostile"
    shutil.copytree(saved, d)
    old = entries(d)
    with zipfile.ZipFile(d / "model.keras", "w") as zf:
        edit(zf, old)
    resign(d, "model.keras")
    return d


def with_config(
    edit: Callable[[dict], None],
) -> Callable[[zipfile.ZipFile, dict[str, bytes]], None]:
    def write(zf: zipfile.ZipFile, old: dict[str, bytes]) -> None:
        config = json.loads(old["config.json"])
        edit(config)
        for name, data in old.items():
            zf.writestr(name, json.dumps(config) if name == "config.json" else data)

    return write


def first_layer(config: dict) -> dict:
    layers: list[dict] = config["config"]["layers"]
    return next(layer for layer in layers if layer["class_name"] != "InputLayer")


def refused_in_one_line(d: Path, fragment: str) -> None:
    """The library refuses it with ``fragment``; so does `predict`, in one line, exit 2."""
    with pytest.raises(ModelDirError, match=fragment) as e:
        open_model_dir(d)
    assert e.value.exit_code == 2 and str(d) in str(e.value)
    res = CliRunner().invoke(app, ["predict", "--model", str(d), "--horizon", "1"])
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lstmctl: error:"), res.stderr


def test_a_lambda_layer_is_refused_before_keras_reads_it(saved_plain: Path, tmp_path: Path) -> None:
    import keras

    inp = keras.Input((3, 1))
    out = keras.layers.Lambda(lambda x: x * 2)(keras.layers.LSTM(2)(inp))
    d = tmp_path / "lambda"
    shutil.copytree(saved_plain, d)
    keras.Model(inp, out).save(d / "model.keras")
    resign(d, "model.keras")
    refused_in_one_line(d, "Lambda .* carries Python code")


def test_a_module_named_by_the_config_is_never_imported(
    saved_plain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A module that would leave a mark if anything imported it.
    mark = tmp_path / "imported"
    (tmp_path / "evil_layers.py").write_text(f"open({str(mark)!r}, 'w').write('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def evil(config: dict) -> None:
        layer = first_layer(config)
        layer["module"] = "evil_layers"
        layer["registered_name"] = "evil_layers>Evil"

    d = rewrite_archive(saved_plain, tmp_path, with_config(evil))
    refused_in_one_line(d, "found evil_layers.LSTM")
    assert not mark.exists() and "evil_layers" not in sys.modules


def test_a_custom_object_is_refused(saved_plain: Path, tmp_path: Path) -> None:
    def custom(config: dict) -> None:
        first_layer(config)["registered_name"] = "mypackage>FancyLSTM"

    d = rewrite_archive(saved_plain, tmp_path, with_config(custom))
    refused_in_one_line(d, "custom object 'mypackage>FancyLSTM'")


def test_a_serialized_function_is_refused(saved_plain: Path, tmp_path: Path) -> None:
    def function(config: dict) -> None:
        first_layer(config)["config"]["activation"] = {
            "module": "builtins",
            "class_name": "function",
            "config": "exec",
            "registered_name": "exec",
        }

    d = rewrite_archive(saved_plain, tmp_path, with_config(function))
    refused_in_one_line(d, "function object .* carries Python code")


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("../../escaped.txt", "a path leaving the archive"),
        ("/tmp/lstmctl-absolute.txt", "a path leaving the archive"),
        ("assets/../../x", "a path leaving the archive"),
        ("extra.py", "an entry a Keras model does not have"),
    ],
)
def test_zip_entries_outside_the_model_are_refused(
    saved_plain: Path, tmp_path: Path, entry: str, fragment: str
) -> None:
    def add(zf: zipfile.ZipFile, old: dict[str, bytes]) -> None:
        for name, data in old.items():
            zf.writestr(name, data)
        zf.writestr(entry, "written outside\n")

    d = rewrite_archive(saved_plain, tmp_path, add)
    refused_in_one_line(d, fragment)
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert not Path("/tmp/lstmctl-absolute.txt").exists()


def test_a_symlink_entry_is_refused(saved_plain: Path, tmp_path: Path) -> None:
    def link(zf: zipfile.ZipFile, old: dict[str, bytes]) -> None:
        for name, data in old.items():
            if name != "metadata.json":
                zf.writestr(name, data)
        info = zipfile.ZipInfo("metadata.json")
        info.external_attr = (0o120777 << 16) | 0
        zf.writestr(info, "/etc/passwd")

    d = rewrite_archive(saved_plain, tmp_path, link)
    refused_in_one_line(d, "a link or directory")


def test_a_decompression_bomb_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("model.weights.h5", bytes(64 << 20))  # 64 MiB of zeros: ~65 KiB packed
    with pytest.raises(ModelDirError, match="decompression bomb"):
        check_keras_archive(buf.getvalue(), "model.keras")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"not a zip at all", "expected a Keras model archive"),
        (b"", "expected a Keras model archive"),
    ],
)
def test_an_archive_that_is_not_a_zip_is_refused(data: bytes, fragment: str) -> None:
    with pytest.raises(ModelDirError, match=fragment):
        check_keras_archive(data, "model.keras")


@pytest.mark.parametrize("depth", [50, 100_000])
def test_a_deeply_nested_config_is_refused_not_crashed(depth: int) -> None:
    # A Lambda hidden deep down; past Python's recursion limit the JSON itself is refused.
    text = '{"x": ' * depth + '{"class_name": "Lambda", "module": "keras.layers"}' + "}" * depth
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("config.json", text)
        zf.writestr("model.weights.h5", b"")
    with pytest.raises(ModelDirError, match="Lambda" if depth < 1000 else "nested too deep"):
        check_keras_archive(buf.getvalue(), "model.keras")


def test_a_manifest_naming_a_file_outside_the_directory_is_refused(
    saved_plain: Path, tmp_path: Path
) -> None:
    d = tmp_path / "outside"
    shutil.copytree(saved_plain, d)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for you")
    manifest = json.loads((d / "manifest.json").read_text())
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    manifest["files"]["../secret.txt"] = {"sha256": digest}
    (d / "manifest.json").write_text(json.dumps(manifest))
    refused_in_one_line(d, "expected a plain file name, found '../secret.txt'")


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("preprocess.json", "{}", "preprocess.json"),
        ("preprocess.json", "[1, 2]", "expected a JSON object"),
        ("preprocess.json", '{"scale": 7, "tail": null}', "preprocess.json"),
        ("spec.yaml", "data: [unclosed\n", "spec.yaml"),
        ("spec.yaml", "!!python/object/apply:os.system ['true']\n", "spec.yaml"),
        ("data.csv", "\xff\xfe garbage\n", "data.csv"),
        ("model.onnx", "not a protobuf", "model.onnx"),
    ],
)
def test_re_signed_garbage_is_one_clear_error(
    saved_plain: Path, tmp_path: Path, name: str, content: str, fragment: str
) -> None:
    d = tmp_path / "garbage"
    shutil.copytree(saved_plain, d)
    (d / name).write_bytes(content.encode("latin-1"))
    resign(d, name)
    # predict reads the model and preprocess.json; update reads the spec and data.csv too.
    new_rows = tmp_path / "new.csv"
    new_rows.write_text("month,sales\n2004-01,200.0\n")
    command = (
        ["predict", "--model", str(d), "--horizon", "1"]
        if name in ("preprocess.json", "model.onnx")
        else [
            "update",
            "--model",
            str(d),
            "--data",
            str(new_rows),
            "-e",
            "1",
            "-o",
            str(tmp_path / "u"),
        ]
    )
    res = CliRunner().invoke(app, command)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lstmctl: error:"), res.stderr
    assert fragment in lines[0]


def test_an_onnx_graph_cannot_read_files_beside_it(
    saved_plain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONNX "external data" names files to read weights from: none is read."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"SECR")
    monkeypatch.chdir(tmp_path)  # where onnxruntime would look for a graph loaded from bytes
    w = helper.make_tensor(
        "w", TensorProto.UINT8, [4], vals=np.zeros(4, np.uint8).tobytes(), raw=True
    )
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "secret.bin"), ("offset", "0"), ("length", "4")):
        w.external_data.add(key=key, value=value)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])],
        "leak",
        [],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [4])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    d = tmp_path / "leaky"
    shutil.copytree(saved_plain, d)
    (d / "model.onnx").write_bytes(model.SerializeToString())
    assert onnx.load_from_string((d / "model.onnx").read_bytes()).graph.initializer
    resign(d, "model.onnx")
    res = CliRunner().invoke(app, ["predict", "--model", str(d), "--horizon", "1"])
    assert res.exit_code == 2, res.output
    assert "model.onnx" in res.stderr and "External data" in res.stderr
