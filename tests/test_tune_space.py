"""The tune section of a spec: the space's keys and values are checked against the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.errors import SpecError
from lstmctl.spec import load_spec
from lstmctl.spec.derive import trial_spec
from lstmctl.spec.tune_space import Choices, Range, decode, grid_points, parse_space

SHAMPOO = ROOT / "configs" / "shampoo.yaml"


def spec_with(*overrides: str):
    return load_spec(SHAMPOO, list(overrides))


def error_of(*overrides: str) -> SpecError:
    with pytest.raises(SpecError) as e:
        spec_with(*overrides)
    return e.value


def test_an_unknown_key_in_the_space_gets_a_did_you_mean() -> None:
    e = error_of("tune.space={model.unitz: [1, 2]}")
    assert e.where == f"{SHAMPOO}: tune.space.model.unitz"
    assert "did you mean model.units?" in e.message
    e = error_of("tune.space={modle.units: [1, 2]}")
    assert "did you mean model.units?" in e.message


def test_the_seed_and_the_study_settings_are_not_hyperparameters() -> None:
    assert "not a hyperparameter" in error_of("tune.space={seed: [1, 2]}").message
    e = error_of("tune.space={evaluate.repeats: [5, 10]}")
    assert "cannot be searched" in e.message and e.where.endswith("tune.space.evaluate.repeats")


def test_every_choice_is_validated_as_a_value_of_its_key() -> None:
    e = error_of("tune.space={model.units: [1, 0]}")
    assert e.where.endswith("tune.space.model.units")
    assert "0 is not a valid choice" in e.message
    e = error_of("tune.space={model.arch: [vanilla, nope]}")
    assert "'nope' is not a valid choice" in e.message and "stacked" in e.message
    e = error_of("tune.space={model.units.x: [1]}")
    assert "model.units is a value, not a section" in e.message


def test_ranges_are_checked() -> None:
    e = error_of("tune.space={train.learning_rate: {lo: 0.001, high: 0.1}}")
    assert "did you mean low?" in e.message
    e = error_of("tune.space={train.learning_rate: {low: 0.1, high: 0.01}}", "tune.trials=3")
    assert "low < high" in e.message
    e = error_of(
        "tune.space={train.learning_rate: {low: 0, high: 0.1, log: true}}", "tune.trials=3"
    )
    assert "low > 0" in e.message
    e = error_of("tune.space={model.units: 4}")
    assert "list of choices" in e.message and "range" in e.message


def test_strategy_defaults_to_grid_for_a_finite_space_else_tpe_with_a_budget() -> None:
    s = spec_with(
        "tune.space={model.units: [1, 2], model.dropout: {low: 0.0, high: 0.4, step: 0.2}}"
    )
    assert s.tune is not None and s.tune.strategy == "grid"
    e = error_of("tune.space={train.learning_rate: {low: 0.001, high: 0.1, log: true}}")
    assert "needs a budget" in e.message
    s = spec_with(
        "tune.space={train.learning_rate: {low: 0.001, high: 0.1, log: true}}", "tune.trials=5"
    )
    assert s.tune is not None and s.tune.strategy == "tpe"
    e = error_of("tune.space={train.learning_rate: {low: 0.001, high: 0.1}}", "tune.strategy=grid")
    assert "grid needs choices or a stepped range" in e.message


def test_set_builds_the_space_key_by_key() -> None:
    # --set tune.space.model.units=[..] nests mappings; they read as dotted keys.
    s = spec_with("tune.space.model.units=[1, 2]", "tune.space.train.batch_size=[1, 4]")
    assert s.tune is not None
    assert [d.key for d in parse_space(s.tune.space)] == ["model.units", "train.batch_size"]
    e = error_of("tune.space.model.unitz=[1, 2]")
    assert "did you mean model.units?" in e.message


def test_grid_points_cover_every_combination_once() -> None:
    dims = parse_space(
        {"model.units": [1, 2, 3], "model.dropout": {"low": 0.0, "high": 0.2, "step": 0.1}}
    )
    assert isinstance(dims[1], Range) and dims[1].grid() == [0.0, 0.1, 0.2]
    points = grid_points(dims, seed=1)
    assert len(points) == 9
    assert {(p["model.units"], p["model.dropout"]) for p in points} == {
        (u, d) for u in (1, 2, 3) for d in (0.0, 0.1, 0.2)
    }
    assert points == grid_points(dims, seed=1) != grid_points(dims, seed=2)  # seeded order


def test_list_valued_choices_travel_as_json_and_come_back() -> None:
    (dim,) = parse_space({"model.units": [[8, 4], [6]]})
    assert isinstance(dim, Choices) and dim.encoded
    assert dim.options() == ["[8, 4]", "[6]"]
    assert decode([dim], {"model.units": "[8, 4]"}) == {"model.units": [8, 4]}


def test_a_trial_spec_re_derives_shuffle_when_stateful_changes() -> None:
    s = spec_with("tune.space={model.stateful: [true, false]}")
    stateless = trial_spec(s, {"model.stateful": False}, repeats=3, metric="mape")
    assert stateless.train.shuffle is True and stateless.model.stateful is False
    assert stateless.evaluate.repeats == 3 and "mape" in stateless.evaluate.metrics
    assert stateless.tune is None
    stateful = trial_spec(s, {"model.stateful": True}, repeats=3, metric="rmse")
    assert stateful.train.shuffle is False


def test_epoch_pruning_needs_the_fused_trainer_and_a_validation_split() -> None:
    e = error_of("tune.space={model.units: [1, 2]}", "tune.pruning.epochs=true")
    assert "validation" in e.message and e.where.endswith("tune.pruning.epochs.monitor")
    e = error_of(
        "tune.space={model.units: [1, 2]}", "tune.pruning.epochs=true", "backend=tensorflow"
    )
    assert "backend: auto" in e.message
    s = spec_with("tune.space={model.units: [1, 2]}", "tune.pruning={epochs: {monitor: loss}}")
    assert s.tune is not None and s.tune.pruning.epochs is not None


def test_tune_options_are_validated() -> None:
    e = error_of("tune.space={model.units: [1]}", "tune.strategi=grid")
    assert e.where.endswith("tune.strategi") and "did you mean tune.strategy?" in e.message
    s = spec_with("tune.space={model.units: [1]}", "tune.timeout=10m", "tune.pruning.repeats=true")
    assert s.tune is not None and s.tune.timeout == 600.0
    assert s.tune.pruning.repeats is not None and s.tune.pruning.repeats.every == 5
    e = error_of("tune.space={model.units: [1]}", "tune.objective.metric=rsme")
    assert "rmse" in e.message


def test_the_shipped_tune_config_validates_and_show_config_prints_it(tmp_path: Path) -> None:
    s = load_spec(ROOT / "configs" / "tune_shampoo.yaml")
    assert s.tune is not None and s.tune.strategy == "grid"
    assert len(grid_points(parse_space(s.tune.space), 1)) == 36
    r = CliRunner().invoke(app, ["show-config", str(ROOT / "configs" / "tune_shampoo.yaml")])
    assert r.exit_code == 0, r.stderr
    shown = yaml.safe_load(r.stdout)
    assert shown["tune"]["space"]["model.units"] == [1, 2, 3, 5]
    assert shown["tune"]["objective"] == {
        "metric": "rmse",
        "direction": "minimize",
        "summary": "mean",
    }


def test_cli_reports_a_bad_space_in_one_line(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["tune", str(SHAMPOO), "--set", "tune.space.model.unitz=[1, 2]"])
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and "did you mean model.units?" in r.stderr
    r = CliRunner().invoke(app, ["tune", str(SHAMPOO)])
    assert r.exit_code == 2 and "no tune section" in r.stderr
