"""Issue 16: what ``validate`` passes, ``run``, ``tune`` and ``compare:`` do not refuse later.

The spec and data problems themselves are cases in
``bad_inputs/cases-validate.yaml``; here: the commands refuse them the same
way before anything trains, and a run that fails before its first repeat
leaves no run directory behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import tiny_raw_spec, write_spec
from typer.testing import CliRunner

import lstmctl.api
import lstmctl.training.fit
import lstmctl.workflows.run
from lstmctl.api import run, tune, validate
from lstmctl.cli import app
from lstmctl.errors import RunError, SpecError
from lstmctl.rundir import discard_run_dir
from lstmctl.spec import load_spec
from lstmctl.workflows.compare import run_compare

# The tiny spec's data has 44 training windows.
TOO_BIG = ["model.stateful=true", "train.batch_size=64"]
TOO_BIG_MESSAGE = "a stateful model needs at least batch_size=64 training windows, found 44"


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail the test if any repeat, trial or variant starts training."""
    started: list[Any] = []

    def refuse(spec: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        started.append(spec)
        raise AssertionError("training started")

    monkeypatch.setattr(lstmctl.training.fit, "iter_repeats", refuse)
    return started


def spec_file(tmp_path: Path, tiny_csv: Path, **sections: Any) -> Path:
    raw = tiny_raw_spec(tmp_path, tiny_csv)
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return write_spec(tmp_path / "spec.yaml", raw)


def runs(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "runs"
    return sorted(folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------- run


def test_run_refuses_what_validate_refuses_with_the_same_error_and_no_folder(
    tmp_path: Path, tiny_csv: Path, no_training: list[Any]
) -> None:
    path = spec_file(tmp_path, tiny_csv)
    with pytest.raises(SpecError) as checked:
        validate(path, TOO_BIG)
    with pytest.raises(SpecError) as ran:
        run(path, TOO_BIG)
    assert str(ran.value) == str(checked.value) == f"train.batch_size: {TOO_BIG_MESSAGE}"
    r = CliRunner().invoke(app, ["run", str(path), *(a for s in TOO_BIG for a in ("--set", s))])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip() == f"lstmctl: error: train.batch_size: {TOO_BIG_MESSAGE}"
    assert not no_training and runs(tmp_path) == []


def test_a_run_that_fails_before_its_first_repeat_leaves_no_folder(
    tmp_path: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(spec: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        raise RunError("the trainer broke", where="train")
        yield  # a generator, as the real one

    monkeypatch.setattr(lstmctl.training.fit, "iter_repeats", broken)
    with pytest.raises(RunError, match="the trainer broke"):
        run(spec_file(tmp_path, tiny_csv))
    assert runs(tmp_path) == []


def test_a_run_that_fails_after_a_repeat_keeps_its_folder(
    tmp_path: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lstmctl.training.result import failed_fit

    def one_then_broken(spec: Any, data: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        yield failed_fit(spec.seed, "loss became nan at epoch 1", 0.0, data)
        raise RunError("the trainer broke", where="train")

    monkeypatch.setattr(lstmctl.training.fit, "iter_repeats", one_then_broken)
    with pytest.raises(RunError, match="the trainer broke"):
        run(spec_file(tmp_path, tiny_csv))
    (kept,) = runs(tmp_path)
    assert (kept / "history" / "repeat-01.json").is_file()
    assert (kept / "spec.yaml").is_file() and (kept / "results.json").is_file()


def test_discard_removes_only_what_a_run_wrote_before_its_first_repeat(tmp_path: Path) -> None:
    def folder(name: str, *files: str) -> Path:
        path = tmp_path / name
        (path / "history").mkdir(parents=True)
        for f in files:
            (path / f).write_text("x")
        return path

    empty = folder("empty", "spec.yaml", "results.json", "repeats.csv")
    assert discard_run_dir(empty) and not empty.exists()
    mine = folder("mine", "spec.yaml", "notes.txt")
    assert not discard_run_dir(mine) and (mine / "spec.yaml").is_file()
    scored = folder("scored", "spec.yaml", "history/repeat-01.json")
    assert not discard_run_dir(scored) and (scored / "history" / "repeat-01.json").is_file()


# ----------------------------------------------------------------------- compare:


def test_compare_refuses_a_bad_variant_before_the_first_trains(
    tmp_path: Path, tiny_csv: Path, no_training: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    variants_run: list[Any] = []
    monkeypatch.setattr(lstmctl.workflows.run, "run", lambda spec, **kw: variants_run.append(spec))
    compare = ["model.units=2", TOO_BIG]
    spec = load_spec(spec_file(tmp_path, tiny_csv, compare=compare))
    with pytest.raises(SpecError) as e:
        run_compare(spec)
    assert str(e.value) == f"compare[1]: train.batch_size: {TOO_BIG_MESSAGE}"
    assert not variants_run and not no_training and runs(tmp_path) == []
    with pytest.raises(SpecError) as checked:
        validate(spec)
    assert str(checked.value) == str(e.value)


def test_cli_compare_with_a_bad_variant_exits_2_with_nothing_trained(
    tmp_path: Path, tiny_csv: Path, no_training: list[Any]
) -> None:
    path = spec_file(tmp_path, tiny_csv, compare=["model.units=2", TOO_BIG])
    r = CliRunner().invoke(app, ["run", str(path)])
    assert r.exit_code == 2 and r.stdout == ""
    assert TOO_BIG_MESSAGE in r.stderr and "compare[1]" in r.stderr
    assert not no_training and runs(tmp_path) == []


def test_a_compare_that_breaks_before_any_variant_leaves_no_folder(
    tmp_path: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(spec: Any, **kw: Any) -> Any:
        raise OSError("disk on fire")

    monkeypatch.setattr(lstmctl.workflows.run, "run", broken)
    spec = load_spec(spec_file(tmp_path, tiny_csv, compare=["model.units=2", "model.units=3"]))
    with pytest.raises(OSError, match="disk on fire"):
        run_compare(spec)
    assert runs(tmp_path) == []


# -------------------------------------------------------------------------- tune


def tune_file(tmp_path: Path, tiny_csv: Path, space: dict[str, Any], **sections: Any) -> Path:
    return spec_file(tmp_path, tiny_csv, tune={"space": space, "repeats": 1}, **sections)


def test_tune_refuses_a_bad_choice_before_any_trial(
    tmp_path: Path, tiny_csv: Path, no_training: list[Any]
) -> None:
    path = tune_file(tmp_path, tiny_csv, {"train.batch_size": [8, 64]}, model={"stateful": True})
    with pytest.raises(SpecError) as e:
        tune(path)
    assert e.value.where == "tune.space.train.batch_size"
    assert e.value.message == f"64 is not a valid choice ({TOO_BIG_MESSAGE})"
    assert not no_training and runs(tmp_path) == []
    with pytest.raises(SpecError) as checked:
        validate(path)
    assert str(checked.value) == str(e.value)
    r = CliRunner().invoke(app, ["tune", str(path)])
    assert r.exit_code == 2 and r.stdout == "" and TOO_BIG_MESSAGE in r.stderr
    assert not no_training and runs(tmp_path) == []


def test_tune_refuses_a_space_no_trial_of_which_can_run(
    tmp_path: Path, tiny_csv: Path, no_training: list[Any]
) -> None:
    # The case: every trial would fail the same way; now the first choice says why.
    path = tune_file(
        tmp_path,
        tiny_csv,
        {"model.units": [2, 4]},
        model={"stateful": True},
        train={"batch_size": 64},
    )
    with pytest.raises(SpecError) as e:
        tune(path)
    assert e.value.where == "tune.space.model.units"
    assert e.value.message == f"2 is not a valid choice (train.batch_size: {TOO_BIG_MESSAGE})"
    assert not no_training and runs(tmp_path) == []


def test_a_range_is_checked_at_both_ends(tmp_path: Path, tiny_csv: Path) -> None:
    path = tune_file(
        tmp_path, tiny_csv, {"train.batch_size": {"low": 4, "high": 64}}, model={"stateful": True}
    )
    with pytest.raises(SpecError, match="64 is not a valid choice"):
        validate(path)
    ok = yaml.safe_load(path.read_text())
    ok["tune"]["space"]["train.batch_size"] = {"low": 4, "high": 40}
    validate(write_spec(path, ok))


def test_choices_that_need_each_other_are_not_refused(tmp_path: Path, tiny_csv: Path) -> None:
    # cnn_lstm fails beside the spec's own subsequences (none), but runs with a searched one.
    space = {"model.arch": ["vanilla", "cnn_lstm"], "model.subsequences": [1, 3]}
    assert validate(tune_file(tmp_path, tiny_csv, space)).tune is not None
    # Without one it cannot run at all.
    with pytest.raises(SpecError, match="'cnn_lstm' is not a valid choice"):
        validate(tune_file(tmp_path, tiny_csv, {"model.arch": ["vanilla", "cnn_lstm"]}))
