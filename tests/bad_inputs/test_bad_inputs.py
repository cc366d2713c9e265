"""The bad-inputs corpus: each broken input is one typed error, one line, exit 2.

The cases are listed in ``cases.yaml`` and ``cases-*.yaml`` (one file per
kind of input, so a new input shape brings its own list); their inputs are the files under
``cases/``. Each case is checked twice: the library raises exactly the
expected class with a message that contains the fragments (where, what was
expected, what was found), and the command prints that message once, as one
``lstmctl: error:`` line on stderr, with nothing on stdout and exit code 2.
Nothing is trained: ``validate`` loads the spec and prepares the data only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lstmctl import errors
from lstmctl.cli import app

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "cases"
CASES: list[dict[str, Any]] = [
    case
    for listing in sorted(HERE.glob("cases*.yaml"))
    for case in yaml.safe_load(listing.read_text(encoding="utf-8")) or []
]

runner = CliRunner()


def _path(case: dict[str, Any]) -> str:
    return str(CASES_DIR / case.get("path", f"{case['id']}.yaml"))


def _library_call(case: dict[str, Any]) -> Callable[[], Any]:
    """The library function behind the case's command."""
    command = case.get("command", "validate")
    if command == "validate":
        from lstmctl.api import validate

        return lambda: validate(_path(case), case.get("set", []))
    if command == "predict":
        from lstmctl.serving.predict import predict

        return lambda: predict(_path(case), **_predict_options(case.get("args", [])))
    if command == "runs-list":
        from lstmctl.history.runs import find_runs

        return lambda: find_runs(_path(case))
    if command == "tune":
        from lstmctl.api import tune

        return lambda: tune(None)
    raise AssertionError(f"unknown command {command!r} in case {case['id']}")


# The predict options a case's `args` may give: each takes one value (a file
# option's path is relative to cases/, as a case's `path` is).
_PREDICT_OPTIONS = {"--series", "--horizon", "--input", "--future"}
_FILE_OPTIONS = {"--input", "--future"}


def _predict_args(args: list[str]) -> list[tuple[str, str]]:
    """A case's extra predict arguments as (option, value) pairs, file paths resolved."""
    assert len(args) % 2 == 0, f"expected option, value pairs, found {args}"
    pairs = list(zip(args[::2], args[1::2], strict=True))
    for option, _ in pairs:
        assert option in _PREDICT_OPTIONS, f"unsupported predict option {option!r}"
    return [(o, str(CASES_DIR / v) if o in _FILE_OPTIONS else v) for o, v in pairs]


def _predict_options(args: list[str]) -> dict[str, Any]:
    """The library's keyword arguments for a case's extra predict arguments (as the CLI
    reads them: --series comma-separated, files as text)."""
    from lstmctl.api import read_input

    options: dict[str, Any] = {}
    for option, value in _predict_args(args):
        if option == "--series":
            options["series"] = [v for v in value.split(",") if v.strip()]
        elif option == "--horizon":
            options["horizon"] = int(value)
        else:
            options["text" if option == "--input" else "future"] = read_input(value)
    return options


def _argv(case: dict[str, Any]) -> list[str]:
    command = case.get("command", "validate")
    if command == "validate":
        return ["validate", _path(case), *(a for s in case.get("set", []) for a in ("--set", s))]
    if command == "predict":
        extra = [a for pair in _predict_args(case.get("args", [])) for a in pair]
        return ["predict", "--model", _path(case), *extra]
    if command == "runs-list":
        return ["runs", "list", "--dir", _path(case)]
    return [command]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input(case: dict[str, Any]) -> None:
    expected = getattr(errors, case["error"])
    with pytest.raises(errors.LstmctlError) as info:
        _library_call(case)()
    error = info.value
    assert type(error) is expected, f"{type(error).__name__}: {error}"
    assert error.exit_code == 2
    message = str(error)
    for fragment in case["match"]:
        assert fragment in message, f"{fragment!r} is not in {message!r}"

    r = runner.invoke(app, _argv(case))
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0] == f"lstmctl: error: {message}"


def test_the_corpus() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
    for case in CASES:
        assert set(case) <= {"id", "path", "command", "set", "args", "error", "match"}, case["id"]
        assert "args" not in case or case.get("command") == "predict", case["id"]
        assert case["error"] in {"SpecError", "DataError", "UsageError", "ModelDirError"}
        assert case["match"], case["id"]
    # Every case file is used, so none is left behind by a renamed case.
    used = {Path(_path(c)).name for c in CASES} | {"valid.yaml"}
    assert {p.name for p in CASES_DIR.glob("*.yaml")} <= used


def test_the_base_spec_is_valid() -> None:
    # Each spec case breaks one thing in a copy of it: it must pass itself.
    r = runner.invoke(app, ["validate", str(CASES_DIR / "valid.yaml")])
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""


def test_merge_keys_may_be_overridden() -> None:
    # `<<: *base` then a key of its own is YAML's way to override, not a duplicate.
    from lstmctl.spec import parse_yaml

    raw = parse_yaml("base: &b {units: 4, layers: 2}\nmodel:\n  <<: *b\n  units: 8\n", "s.yaml")
    assert raw["model"] == {"units": 8, "layers": 2}
    with pytest.raises(errors.SpecError, match="found key 'units' twice, on lines 3 and 4"):
        parse_yaml("model:\n  <<: {units: 4}\n  units: 8\n  units: 9\n", "s.yaml")
