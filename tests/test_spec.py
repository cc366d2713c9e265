"""The spec loader: defaults, overrides and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import ROOT, write_spec

from lstmctl.errors import SpecError
from lstmctl.spec import load_spec, validate_spec

MINIMAL = {"data": {"path": "x.csv", "target": "y"}}


def load(tmp_path: Path, data: object, overrides: list[str] | None = None):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_spec(path, overrides or [])


def test_defaults_are_filled_and_name_comes_from_the_file(tmp_path: Path) -> None:
    spec = load(tmp_path, MINIMAL)
    assert spec.name == "s"
    assert spec.model.arch == "vanilla"
    assert spec.data.target == ["y"]
    assert spec.train.shuffle is True  # resolved: stateless models shuffle
    dumped = yaml.safe_load(spec.to_yaml())
    assert dumped["evaluate"]["repeats"] == spec.evaluate.repeats
    assert dumped["data"]["window"] == {"lookback": 1, "horizon": 1}


def test_stateful_model_does_not_shuffle_by_default(tmp_path: Path) -> None:
    spec = load(tmp_path, {**MINIMAL, "model": {"stateful": True}})
    assert spec.train.shuffle is False


def test_typo_suggests_the_nearest_key(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as e:
        load(tmp_path, {**MINIMAL, "model": {"unitz": 4}})
    assert "model.unitz" in str(e.value)
    assert "did you mean model.units?" in str(e.value)
    assert "s.yaml" in str(e.value)


def test_nested_typo_is_named_with_its_full_path(tmp_path: Path) -> None:
    with pytest.raises(
        SpecError, match=r"data\.window\.lookbak.*did you mean data\.window\.lookback"
    ):
        load(tmp_path, {"data": {**MINIMAL["data"], "window": {"lookbak": 3}}})


def test_wrong_type_says_expected_and_found(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as e:
        load(tmp_path, {**MINIMAL, "train": {"epochs": "many"}})
    msg = str(e.value)
    assert "train.epochs" in msg and "integer" in msg and "'many'" in msg


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("train.epochs=-1", "train.epochs"),
        ("data.split.test=1.5", "fraction for test"),
        ("data.scale.range=[1, 0]", "low < high"),
        ("data.transforms=[diff]", "data.transforms[0].kind"),
        ("model.units=abc", "model.units"),
        ("train.early_stopping.monitor=val_loss", "data.split.validation is 0"),
        ("nonsense", "expected key.path=value"),
        ("model.units.inner=3", "model.units"),
        ("evaluate.metrics=[]", "at least one metric"),
    ],
)
def test_bad_override_is_a_spec_error(tmp_path: Path, override: str, fragment: str) -> None:
    with pytest.raises(SpecError) as e:
        load(tmp_path, MINIMAL, [override])
    assert fragment in str(e.value)


def test_override_values_are_parsed_as_yaml(tmp_path: Path) -> None:
    spec = load(
        tmp_path,
        MINIMAL,
        ["model.units=[8, 4]", "model.arch=stacked", "train.learning_rate=0.01", "seed=7"],
    )
    assert spec.model.units == [8, 4]
    assert spec.train.learning_rate == 0.01
    assert spec.seed == 7


def test_stateful_with_shuffle_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="train.shuffle must be false"):
        load(tmp_path, {**MINIMAL, "model": {"stateful": True}, "train": {"shuffle": True}})


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "found an empty file"),
        ("- a\n- b\n", "found a list"),
        ("data: [unclosed\n", "invalid YAML"),
        ("data:\n  path: x\n path: y\n", "invalid YAML"),
    ],
)
def test_unreadable_specs(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=fragment):
        load_spec(path)


def test_yaml_errors_give_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndata: {path: a.csv\n")
    with pytest.raises(SpecError) as e:
        load_spec(path)
    assert e.value.where is not None and e.value.where.startswith(f"{path}:")


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="spec file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_data_needs_exactly_one_source() -> None:
    with pytest.raises(SpecError, match="exactly one of data.path"):
        validate_spec({"data": {"target": "y"}})


def test_relative_data_path_falls_back_to_the_spec_folder(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,y\n1,2\n")
    spec = write_spec(tmp_path / "s.yaml", {"data": {"path": "d.csv", "target": "y"}})
    assert Path(load_spec(spec).data.path or "") == tmp_path / "d.csv"


@pytest.mark.parametrize("config", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_validates(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lstmctl.evaluation.preflight import prepare_run

    monkeypatch.chdir(ROOT)
    _, data = prepare_run(load_spec(config))  # a problem's task settles, or refuses the spec
    assert len(data.X_test) > 0 and len(data.X_train) > 0


def test_categorical_names_are_checked_against_the_table_first() -> None:
    # With a table, data.categorical is checked after every column is found in it (a
    # typo in data.static is named as one); a generated problem has no table to wait for.
    data = {"target": "y", "series": "id", "time": "t", "static": ["regoin"]}
    spec = validate_spec({"data": {"path": "x.csv", **data, "categorical": ["region"]}})
    assert spec.data.stray_categorical() == (
        "listed in data.features or data.static, found ['region']; did you mean 'regoin'?"
    )
    with pytest.raises(SpecError, match=r"data.categorical must name columns .* found \['w'\]"):
        validate_spec({"data": {"problem": "sine", "categorical": ["w"]}})
