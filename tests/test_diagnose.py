"""Learning-curve verdicts on synthetic curves, and `lstmctl diagnose` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.spec import load_spec
from lstmctl.spec.derive import diagnosis_spec
from lstmctl.workflows.diagnose import (
    GOOD,
    INCONCLUSIVE,
    OVER,
    UNDER,
    CurveVerdict,
    judge_curve,
    overall_verdict,
)

EPOCHS = np.arange(100, dtype=float)


def noisy(curve: np.ndarray, scale: float, seed: int = 0) -> np.ndarray:
    """Multiplicative epoch-to-epoch noise, as minibatch training gives."""
    return curve * (1 + np.random.default_rng(seed).normal(0, scale, len(curve)))


def overfit_curves() -> tuple[np.ndarray, np.ndarray]:
    train = 0.05 + 0.95 * np.exp(-EPOCHS / 15)
    val = 0.3 + 0.0001 * (EPOCHS - 40) ** 2  # lowest at index 40, i.e. epoch 41
    return train, val


def goodfit_curves() -> tuple[np.ndarray, np.ndarray]:
    train = 0.10 + 0.9 * np.exp(-EPOCHS / 10)
    val = 0.12 + 0.9 * np.exp(-EPOCHS / 10)
    return train, val


def test_overfit_names_the_epoch_of_the_lowest_validation_loss() -> None:
    train, val = overfit_curves()
    v = judge_curve(train, val, reference=1.0)
    assert v.verdict == OVER
    assert v.best_epoch == 41
    assert v.val_rise is not None and v.val_rise > 0.5
    assert "epoch 41" in v.reason and "training loss kept falling" in v.reason


def test_overfit_is_found_through_epoch_noise() -> None:
    train, val = overfit_curves()
    v = judge_curve(noisy(train, 0.05, 1), noisy(val, 0.05, 2), reference=1.0)
    assert v.verdict == OVER
    assert v.best_epoch is not None and 25 <= v.best_epoch <= 55


def test_good_fit_when_validation_loss_levels_off() -> None:
    train, val = goodfit_curves()
    v = judge_curve(train, val, reference=1.0)
    assert v.verdict == GOOD
    assert v.val_rise is not None and v.val_rise < 0.01
    assert "levelled off" in v.reason


def test_noise_alone_does_not_make_a_good_fit_an_overfit() -> None:
    train, val = goodfit_curves()
    v = judge_curve(noisy(train, 0.05, 3), noisy(val, 0.05, 4), reference=1.0)
    assert v.verdict == GOOD


def test_underfit_when_both_losses_are_still_falling() -> None:
    train = 1.0 - 0.005 * EPOCHS
    val = 1.1 - 0.005 * EPOCHS
    v = judge_curve(train, val, reference=2.0)
    assert v.verdict == UNDER
    assert v.signs == ["falling"]
    assert v.train_change is not None and v.train_change < -0.05
    assert "still learning" in v.reason


def test_underfit_when_training_loss_stays_near_the_mean_predictor() -> None:
    train = np.full(100, 0.95)
    val = np.full(100, 0.97)
    v = judge_curve(train, val, reference=1.0)
    assert v.verdict == UNDER
    assert v.signs == ["high"]
    assert "95%" in v.reason and "learned little" in v.reason
    # Without the yardstick the same flat curves are a (poor but) settled fit.
    assert judge_curve(train, val).verdict == GOOD


def test_training_loss_falling_alone_is_not_underfit() -> None:
    # Validation has settled while training loss still creeps down: no more to gain.
    train = 1.0 - 0.005 * EPOCHS
    val = np.full(100, 0.6)
    assert judge_curve(train, val).verdict == GOOD


@pytest.mark.parametrize(
    ("train", "val", "phrase"),
    [
        ([1.0, 0.9, 0.8], [1.0, 0.9, 0.8], "too few"),
        ([1.0, float("nan")] + [0.5] * 20, [1.0] * 22, "not finite"),
        (list(0.1 + 0.9 * np.exp(-EPOCHS / 10)), None, "without validation loss"),
    ],
)
def test_inconclusive_cases(train: list[float], val: list[float] | None, phrase: str) -> None:
    v = judge_curve(train, val)
    assert v.verdict == INCONCLUSIVE
    assert phrase in v.reason


def test_both_losses_rising_is_unstable_not_overfit() -> None:
    curve = 0.2 + 0.0002 * (EPOCHS - 30) ** 2
    v = judge_curve(curve, curve * 1.1)
    assert v.verdict == INCONCLUSIVE
    assert "unstable" in v.reason


def test_without_validation_only_underfit_can_be_told() -> None:
    v = judge_curve(1.0 - 0.005 * EPOCHS)
    assert v.verdict == UNDER and v.best_epoch is None


def test_overall_verdict_is_the_majority_with_its_evidence() -> None:
    def cv(verdict: str, best: int) -> CurveVerdict:
        return CurveVerdict(verdict, "", epochs=100, best_epoch=best, val_rise=0.3)

    verdict, reason, advice = overall_verdict([cv(OVER, 30), cv(OVER, 50), cv(GOOD, 90)])
    assert verdict == OVER
    assert "2 of 3 repeats" in reason and "epoch 40" in reason and "1 good fit" in reason
    assert "about 40 epochs" in advice
    # A tie goes to the verdict a user can act on.
    assert overall_verdict([cv(GOOD, 90), cv(OVER, 30)])[0] == OVER
    assert overall_verdict([cv(GOOD, 90), cv(GOOD, 80), cv(UNDER, 100)])[0] == GOOD
    assert overall_verdict([])[0] == INCONCLUSIVE


def test_diagnosis_spec_adds_a_validation_split_and_keeps_a_given_one(tiny_spec: Path) -> None:
    spec = load_spec(tiny_spec, ["evaluate.repeats=30"])
    diag, val = diagnosis_spec(spec)
    assert val == 0.2 and diag.data.split.validation == 0.2
    assert diag.evaluate.repeats == 5 and diag.name == "tiny-diagnose"
    kept, val = diagnosis_spec(load_spec(tiny_spec, ["data.split.validation=6"]), repeats=2)
    assert val == 6 and kept.evaluate.repeats == 2
    _, val = diagnosis_spec(spec, validation=8.0)
    assert val == 8 and isinstance(val, int)


runner = CliRunner()


def test_diagnose_command_prints_a_verdict_and_writes_the_curves(
    tiny_spec: Path, tmp_path: Path
) -> None:
    r = runner.invoke(
        app, ["diagnose", str(tiny_spec), "--set", "train.epochs=12", "-f", "json", "--plot"]
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["verdict"] in {OVER, UNDER, GOOD, INCONCLUSIVE}
    assert data["reason"] and data["validation"] == 0.2
    assert [row["repeat"] for row in data["repeats"]] == [1, 2]
    assert all(1 <= row["best_epoch"] <= 12 for row in data["repeats"])
    run_dir = Path(data["run_dir"])
    assert run_dir.name.startswith("tiny-diagnose-")
    assert Path(data["plot"]) == run_dir / "learning-curves.png"
    assert (run_dir / "learning-curves.png").stat().st_size > 5000
    saved = json.loads((run_dir / "diagnosis.json").read_text())
    assert saved["verdict"] == data["verdict"]
    assert yaml.safe_load((run_dir / "spec.yaml").read_text())["data"]["split"]["validation"] == 0.2
    report = (run_dir / "report.html").read_text()
    assert "Diagnosis" in report and data["verdict"] in report
    history = json.loads((run_dir / "history" / "repeat-01.json").read_text())
    assert len(history["val_loss"]) == 12
    # --plot: the paths on stderr, nothing else there.
    assert f"plot: {run_dir / 'learning-curves.png'}" in r.stderr


def test_diagnose_table_shows_curves_and_verdict(tiny_spec: Path) -> None:
    r = runner.invoke(
        app, ["diagnose", str(tiny_spec), "--set", "train.epochs=6", "--repeats", "1"]
    )
    assert r.exit_code == 0, r.stderr
    assert "verdict:" in r.stdout and "learning curves:" in r.stdout
    assert any(c in r.stdout for c in "▁▂▃▄▅▆▇█")  # the curve sparklines
    assert r.stderr == ""


def test_diagnose_rejects_a_bad_validation_split(tiny_spec: Path) -> None:
    r = runner.invoke(app, ["diagnose", str(tiny_spec), "--validation", "1.5"])
    assert r.exit_code == 2
    assert "--validation" in r.stderr and "1.5" in r.stderr
    assert r.stdout == ""
