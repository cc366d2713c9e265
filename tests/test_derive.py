"""Derived specs (lstmctl.spec.derive): new specs from a spec and changes, the spec untouched."""

from __future__ import annotations

import pytest

from lstmctl.errors import SpecError
from lstmctl.spec import Spec, validate_spec
from lstmctl.spec.derive import derive, final_spec, for_task


def csv_spec(**sections: object) -> Spec:
    return validate_spec({"data": {"path": "d.csv", "target": "y"}, **sections})


def test_derive_returns_a_new_validated_spec_and_leaves_the_spec_alone() -> None:
    spec = csv_spec()
    before = spec.dump()
    out = derive(spec, {"model.units": [8, 4]}, overrides=["train.epochs=3"], source="v")
    assert (out.model.units, out.train.epochs) == ([8, 4], 3)
    assert spec.dump() == before
    with pytest.raises(SpecError) as e:
        derive(spec, {"train.epochs": 0}, source="variant")
    assert e.value.where == "variant: train.epochs"
    with pytest.raises(SpecError, match="expected key.path=value") as e:
        derive(spec, overrides=["epochs"], source="compare[1]")
    assert e.value.where == "compare[1]"


def test_an_unvalidated_derivation_sets_what_the_schema_refuses() -> None:
    spec = csv_spec(train={"early_stopping": {"monitor": "loss"}})
    final = final_spec(spec)
    assert (final.data.split.test, final.data.split.validation) == (0, 0)
    assert final.evaluate.repeats == 1 and spec.data.split.test != 0
    with pytest.raises(ValueError, match="values only"):
        derive(spec, overrides=["seed=2"], validate=False)


def test_for_task_settles_a_classification_spec_without_changing_it() -> None:
    spec = csv_spec()
    settled = for_task(spec, task="classification", horizon=2, binary=True, has_persistence=False)
    assert settled.evaluate.metrics == ["accuracy", "sequence_accuracy"]
    assert settled.evaluate.baseline == "majority"
    assert (settled.model.output_activation, settled.train.loss) == (
        "sigmoid",
        "binary_crossentropy",
    )
    assert spec.evaluate.metrics == ["rmse", "mae"] and spec.train.loss == "mse"
    same = for_task(spec, task="regression", horizon=1, binary=True, has_persistence=True)
    assert same.dump() == spec.dump() and same is not spec
    with pytest.raises(SpecError, match="no persistence forecast") as e:
        for_task(spec, task="regression", horizon=1, binary=True, has_persistence=False)
    assert e.value.where == "evaluate.baseline"
