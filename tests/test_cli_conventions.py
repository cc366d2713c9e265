"""What every command shares: one error line and its exit code, every --format, strict JSON."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import tiny_raw_spec, write_spec, write_tiny_csv
from typer.testing import CliRunner

from lstmctl.cli import _State, app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def strict_json(text: str) -> Any:
    """Parse as any JSON parser would: NaN and Infinity are not JSON."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def one_error_line(r: Any, code: int = 2) -> str:
    assert r.exit_code == code, (r.exit_code, r.output)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lstmctl: error: "), r.stderr
    return str(lines[0])


@pytest.fixture
def debug_reset() -> Iterator[None]:
    # --debug logs to the runner's (then closed) stderr and sets a process-wide flag.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    _State.debug = False


# ------------------------------------------------------------------ usage errors


USAGE_ERRORS: list[tuple[list[str], list[str]]] = [
    ([], ["expected a command: run, validate", "lstmctl --help"]),
    (["runs"], ["runs: expected a command: list, show, compare", "lstmctl runs --help"]),
    (["bogus"], ["No such command 'bogus'", "the commands: run,"]),
    (["run"], ["run: Missing argument", "lstmctl run --help"]),
    (["run", "--format", "xml", "x.yaml"], ["--format", "'xml'", "'csv'"]),
    (["run", "--fromat", "json", "x.yaml"], ["No such option: --fromat", "--format"]),
    (["run", "a.yaml", "b.yaml"], ["unexpected extra argument"]),
    (["finalize", "x.yaml"], ["Missing option '--out'"]),
    (["generate", "-m", "m", "--length", "-5"], ["--length", "found -5"]),
    (["generate", "-m", "m", "--temperature", "nan"], ["--temperature", "found nan"]),
    (["generate", "-m", "m", "--temperature", "inf"], ["--temperature", "found inf"]),
    (["diagnose", "x.yaml", "--validation", "nan"], ["--validation", "found nan"]),
    (["diagnose", "x.yaml", "--repeats", "0"], ["--repeats", ">= 1, found 0"]),
    (["predict", "-m", "m", "--horizon", "0"], ["--horizon", ">= 1, found 0"]),
    (["update", "-m", "m", "-d", "d.csv", "--epochs", "-1"], ["--epochs", "found -1"]),
    (["run", "x.yaml", "--jobs", "0"], ["--jobs", "found 0"]),
    (["tune", "x.yaml", "--workers", "0"], ["--workers", "found 0"]),
    (["runs", "list", "--limit", "-1"], ["--limit", "found -1"]),
    (["runs", "compare", "a", "b", "--alpha", "nan"], ["--alpha", "found nan"]),
]


@pytest.mark.parametrize(
    ("args", "fragments"),
    USAGE_ERRORS,
    ids=[" ".join(args) or "(no arguments)" for args, _ in USAGE_ERRORS],
)
def test_a_usage_error_is_one_line_on_stderr_with_exit_2(
    args: list[str], fragments: list[str]
) -> None:
    line = one_error_line(invoke(*args))
    assert "--help" in line and "╭" not in line and "Usage:" not in line
    for fragment in fragments:
        assert fragment in line, line


def test_help_goes_to_stdout_only_when_asked_for() -> None:
    for args in (["--help"], ["runs", "--help"], ["run", "--help"]):
        r = invoke(*args)
        assert r.exit_code == 0 and r.stderr == ""
        assert "Usage" in r.stdout


# ------------------------------------------------------------------ --debug keeps the exit code


def test_debug_adds_the_traceback_and_keeps_the_exit_code(
    tmp_path: Path, debug_reset: None
) -> None:
    spec = write_spec(tmp_path / "bad.yaml", {"name": "x", "model": {"arch": "nosuch"}})
    for args in (["validate", str(spec)], ["predict", "--model", str(tmp_path / "none")]):
        plain = invoke(*args)
        line = one_error_line(plain)
        r = invoke("--debug", *args)
        assert r.exit_code == 2, r.output  # a spec or model-directory error, not a crash
        assert r.stdout == "" and "Traceback (most recent call last)" in r.stderr
        assert r.stderr.splitlines()[-1] == line


# ------------------------------------------------------------------ --format csv on every command


def test_list_csv_is_quoted_by_the_csv_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmctl.workflows.catalog

    sections = {"metrics": {"odd": 'says "hi", then [stops]'}, "problems": {}}
    monkeypatch.setattr(lstmctl.workflows.catalog, "catalog", lambda what=None: sections)
    r = invoke("list", "-f", "csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows == [{"kind": "metrics", "name": "odd", "description": 'says "hi", then [stops]'}]
    assert "[stops]" in invoke("list").stdout  # not read as markup
    assert strict_json(invoke("list", "-f", "json").stdout) == sections


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A model finalized by the command with --format csv (1 epoch, no ONNX): (folder, result)."""
    folder = tmp_path_factory.mktemp("conventions")
    raw = tiny_raw_spec(folder, write_tiny_csv(folder))
    raw["train"]["epochs"] = 1
    spec = write_spec(folder / "tiny.yaml", raw)
    r = invoke("finalize", str(spec), "--out", str(folder / "model"), "--no-onnx", "-f", "csv")
    return folder, r


def test_finalize_csv_is_one_row_of_facts(saved: tuple[Path, Any]) -> None:
    folder, r = saved
    assert r.exit_code == 0, r.stderr
    (row,) = list(csv.DictReader(io.StringIO(r.stdout)))
    assert row["model"] == str(folder / "model") and row["arch"] == "vanilla"
    assert row["epochs"] == "1" and row["rows"] == "60" and row["onnx_skipped"]


def test_update_csv_and_its_errors_name_the_users_file(saved: tuple[Path, Any]) -> None:
    folder, _ = saved
    model = folder / "model"
    new = folder / "new.csv"
    new.write_text("month,sales\n2020-060,230\n\n2020-061,abc\n")
    r = invoke("update", "-m", str(model), "-d", str(new), "--epochs", "1", "-o", str(folder / "u"))
    line = one_error_line(r)
    # The user's file and its line (4: after the header, a row and a blank line),
    # not the temporary file of saved + new rows the update reads.
    assert f"{new}: column sales, line 4: expected a number, found 'abc'" in line
    assert "lstmctl-update-" not in line

    new.write_text("month,sales\n2020-060,230\n2020-061,231\n")
    args = ["update", "-m", str(model), "-d", str(new), "--epochs", "1", "--no-onnx"]
    r = invoke(*args, "-o", str(folder / "u"), "-f", "csv")
    assert r.exit_code == 0, r.stderr
    (row,) = list(csv.DictReader(io.StringIO(r.stdout)))
    assert row["update_scheme"] == "fine-tune" and row["new_rows"] == "2"
    assert row["parent"] == str(model)
    r = invoke(*args, "-o", str(folder / "u2"), "-f", "json")
    assert strict_json(r.stdout)["lineage"]["new_rows"] == 2


def test_update_names_a_line_of_the_saved_rows_by_their_file() -> None:
    from lstmctl.workflows.new_rows import relocate

    origins = [("model/data.csv", 2), ("model/data.csv", 3), ("new.csv", 5)]
    message, where = relocate(
        "expected each time once, found '2020-01' on lines 3 and 4", "/tmp/x/data.csv: line 4",
        "/tmp/x/data.csv", origins,
    )  # fmt: skip
    assert where == "new.csv: line 5"
    assert message == (
        "expected each time once, found '2020-01' on line 3 of model/data.csv and line 5"
    )
    message, where = relocate("expected a number", "/tmp/x/data.csv: column y, line 3",
                               "/tmp/x/data.csv", origins)  # fmt: skip
    assert where == "model/data.csv: column y, line 3"
    assert relocate("found lines 2 and 3", None, "/tmp/x/data.csv", origins) == (
        "found lines 2 and 3",
        None,
    )


# ------------------------------------------------------------------ strict JSON


def test_a_diverged_run_writes_strict_json_and_says_why(tmp_path: Path) -> None:
    raw = tiny_raw_spec(tmp_path, write_tiny_csv(tmp_path))
    raw["name"] = "div"
    raw["train"] = {"epochs": 1, "batch_size": 8, "optimizer": "sgd", "learning_rate": 1.0e12}
    raw["evaluate"]["repeats"] = 1
    spec = write_spec(tmp_path / "div.yaml", raw)
    r = invoke("run", str(spec))
    assert r.exit_code == 1 and "every repeat failed" in r.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    results = strict_json((run_dir / "results.json").read_text())
    assert results["metrics"]["rmse"]["mean"] is None
    assert results["per_repeat"][0]["rmse"] is None
    note = results["non_finite"]
    assert "null" in note["note"] and "metrics.rmse.mean" in note["keys"]
    for history in (run_dir / "history").glob("*.json"):
        strict_json(history.read_text())


def test_json_on_stdout_is_strict_even_for_an_old_results_file(tmp_path: Path) -> None:
    # Runs written before results.json was strict hold bare NaN.
    run = tmp_path / "old-20260101-000000"
    run.mkdir()
    (run / "results.json").write_text(
        '{"name": "old", "repeats": 1, "complete": true, "metrics": {"rmse": '
        '{"mean": NaN, "values": [1.0, NaN]}}, "per_repeat": [{"repeat": 1, "rmse": Infinity}]}'
    )
    r = invoke("runs", "show", str(run), "-f", "json")
    assert r.exit_code == 0, r.stderr
    data = strict_json(r.stdout)
    assert data["metrics"]["rmse"] == {"mean": None, "values": [1.0, None]}
    assert data["non_finite"]["keys"] == [
        "metrics.rmse.mean",
        "metrics.rmse.values",
        "per_repeat[0].rmse",
    ]
    rows = strict_json(invoke("runs", "list", "-d", str(tmp_path), "-f", "json").stdout)
    assert rows[0]["mean"] is None


# ------------------------------------------------------------------ one output layer, one facade

CLI = Path(__file__).resolve().parent.parent / "lstmctl" / "cli"
# What the commands may import: the facade, the renderers, the ground floor.
CLI_MAY_IMPORT = (
    "lstmctl.cli",
    "lstmctl.api",
    "lstmctl.report.",
    "lstmctl.history.view",
    "lstmctl.tuning.report",
    "lstmctl.errors",
    "lstmctl.signals",
    "lstmctl.memory",
    "lstmctl.rundir",
)


def test_the_cli_calls_the_library_only_through_the_api() -> None:
    import ast

    found = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [
                    f"{node.module}.{a.name}" if node.module == "lstmctl" else node.module
                    for a in node.names
                ]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("lstmctl")
                and n != "lstmctl.__version__"
                and not n.startswith(CLI_MAY_IMPORT)
            ]
    assert not found, found


def test_only_the_output_layer_writes_results() -> None:
    for path in sorted(CLI.glob("*.py")):
        if path.name == "output.py":
            continue
        code = path.read_text(encoding="utf-8")
        for banned in ("print(", "sys.stdout", "json.dumps", "import csv"):
            hits = [ln for ln in code.splitlines() if banned in ln and "err().print(" not in ln]
            assert not hits, (path.name, hits)


def test_an_empty_csv_keeps_its_header_when_the_columns_are_known() -> None:
    from lstmctl.rundir import csv_text

    assert csv_text([]) == ""
    assert csv_text([], ["origin", "step"]) == "origin,step\n"
    assert csv_text([{"step": 1}], ["origin", "step"]) == "origin,step\n,1\n"
