"""Plots are real PNGs with something drawn on them; report.html embeds them with the tables."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_runs import tiny_spec_file
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.report.html import render_report
from lstmctl.report.outputs import constant_loss, median_repeat
from lstmctl.report.plots import box_plot, forecast_vs_actual, learning_curves, score_boxes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_drawn_png(path: Path, min_ink: float = 0.02) -> None:
    """A valid PNG of a sensible size, with more than background on it."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = imread(path)
    assert img.shape[0] >= 200 and img.shape[1] >= 300
    rgb = img[..., :3]
    ink = float(np.mean(np.any(rgb < 0.9, axis=-1)))  # share of non-white pixels
    assert ink > min_ink, f"{path.name} looks blank ({ink:.1%} drawn)"
    colours = len(np.unique((rgb.reshape(-1, 3) * 255).astype(np.uint8), axis=0))
    assert colours > 8, f"{path.name} has only {colours} colours"


def blank_ink(tmp_path: Path) -> float:
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    Figure(figsize=(8, 4.8)).savefig(tmp_path / "blank.png")
    rgb = imread(tmp_path / "blank.png")[..., :3]
    return float(np.mean(np.any(rgb < 0.9, axis=-1)))


def test_learning_curves_png(tmp_path: Path) -> None:
    epochs = np.arange(50)
    histories = {
        f"repeat {i}": {
            "loss": list(0.1 + np.exp(-epochs / (8 + i))),
            "val_loss": list(0.2 + np.exp(-epochs / (8 + i)) + 0.0004 * epochs**2 / 10),
        }
        for i in range(1, 6)
    }
    path = learning_curves(histories, tmp_path / "curves.png", reference=1.0)
    assert_drawn_png(path)
    assert blank_ink(tmp_path) < 0.01  # the yardstick itself: an empty figure has no ink


def test_learning_curves_without_validation_and_with_huge_range(tmp_path: Path) -> None:
    loss = list(10.0 ** -np.linspace(0, 5, 40))  # five decades: drawn on a log axis
    assert_drawn_png(learning_curves({"repeat 1": {"loss": loss}}, tmp_path / "c.png"))


def test_forecast_vs_actual_one_and_many_steps(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    actual = (100 + np.cumsum(rng.normal(0, 5, 30)))[:, None, None]
    forecast = actual + rng.normal(0, 3, actual.shape)
    labels = [f"2020-{i:02d}" for i in range(30)]
    one = forecast_vs_actual(actual, forecast, tmp_path / "f1.png", labels, ["sales"], actual)
    assert_drawn_png(one)
    # Horizon 3, two targets: panels for step 1 and step 3 of each.
    multi = np.repeat(np.repeat(actual, 3, axis=1), 2, axis=2)
    path = forecast_vs_actual(multi, multi * 1.05, tmp_path / "f3.png", labels, ["a", "b"])
    assert_drawn_png(path)


def test_box_plot_takes_labels_to_values_and_skips_failures(tmp_path: Path) -> None:
    groups = {
        "units=1": [100.0, 104.0, 98.0, 101.0, float("nan")],
        "units=4": [90.0, 95.0, 93.0, 91.0, 97.0],
        "units=8 (all failed)": [float("nan")],
    }
    path = box_plot(groups, tmp_path / "box.png", "tune", "rmse", {"persistence": 136.8})
    assert_drawn_png(path)


def test_score_boxes_one_panel_per_metric(tmp_path: Path) -> None:
    path = score_boxes(
        {"rmse": [10.0, 12.0, 11.0], "mae": [8.0, 9.0, 8.5]},
        tmp_path / "scores.png",
        baselines={"persistence": {"rmse": 15.0, "mae": 12.0}},
        title="scores",
    )
    assert_drawn_png(path)


def test_constant_loss_is_the_mean_predictors_loss() -> None:
    y = np.array([[[1.0]], [[3.0]], [[5.0]]])
    assert constant_loss("mse", y) == pytest.approx(8 / 3)
    assert constant_loss("mae", y) == pytest.approx(4 / 3)
    assert constant_loss("categorical_crossentropy", y) is None


def test_median_repeat_skips_failures() -> None:
    class Row:
        def __init__(self, repeat: int, rmse: float, error: str | None = None) -> None:
            self.repeat, self.scores, self.error = repeat, {"rmse": rmse}, error

    rows = [Row(1, 5.0), Row(2, 1.0), Row(3, 3.0), Row(4, float("nan"), "diverged"), Row(5, 9.0)]
    assert median_repeat(rows, "rmse").repeat == 3  # lower middle of 1, 3, 5, 9


runner = CliRunner()


@pytest.fixture(scope="module")
def plotted_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One tiny run with --plot, shared by the tests below: (run directory, stderr)."""
    folder = tmp_path_factory.mktemp("plotted")
    spec = tiny_spec_file(folder)
    r = runner.invoke(
        app, ["run", str(spec), "-f", "json", "--plot", "--set", "evaluate.repeats=3"]
    )
    assert r.exit_code == 0, r.stderr
    return Path(json.loads(r.stdout)["run_dir"]), r.stderr  # stdout is pure JSON


@pytest.fixture
def run_dir(plotted_run: tuple[Path, str]) -> Path:
    return plotted_run[0]


def test_every_run_directory_gets_plots_forecasts_and_a_report(run_dir: Path) -> None:
    for name in ("learning-curves.png", "forecast.png", "scores.png"):
        assert_drawn_png(run_dir / name)
    results = json.loads((run_dir / "results.json").read_text())
    rows = list(csv.DictReader(io.StringIO((run_dir / "forecasts.csv").read_text())))
    assert len(rows) == results["test_windows"] == 12
    assert set(rows[0]) == {
        "time", "step", "target", "actual", "persistence", "repeat_01", "repeat_02", "repeat_03",
        "ensemble",
    }  # fmt: skip
    # The forecasts are the ones scored: each repeat's RMSE comes back from the file.
    actual = np.array([float(r["actual"]) for r in rows])
    for rep in results["per_repeat"]:
        f = np.array([float(r[f"repeat_{rep['repeat']:02d}"]) for r in rows])
        assert np.sqrt(np.mean((f - actual) ** 2)) == pytest.approx(rep["rmse"], rel=1e-9)
    persistence = np.array([float(r["persistence"]) for r in rows])
    expected = results["baselines"]["persistence"]["rmse"]
    assert np.sqrt(np.mean((persistence - actual) ** 2)) == pytest.approx(expected)


def test_report_html_holds_the_tables_and_embedded_images(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    results = json.loads((run_dir / "results.json").read_text())
    # The summary table: every metric with its mean, the baseline beside it.
    assert "<table>" in page and "<th>persistence</th>" in page
    assert f"{results['metrics']['rmse']['mean']:.3f}" in page
    assert f"{results['baselines']['persistence']['rmse']:.3f}" in page
    assert "name: tiny" in page  # the spec
    # The repeats table: repeat, seed and epochs are counts, printed as integers.
    first = results["per_repeat"][0]
    counts = "".join(f"<td>{first[k]}</td>" for k in ("repeat", "seed"))
    assert counts in page and "<td>1.000</td>" not in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 3
    for data in images:
        assert base64.b64decode(data)[:8] == PNG_SIGNATURE
    # Self-contained: nothing loaded from elsewhere.
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert render_report(run_dir) == page  # rebuilt from the directory's files alone


def test_run_plot_option_prints_the_paths_on_stderr(plotted_run: tuple[Path, str]) -> None:
    run_dir, stderr = plotted_run
    assert stderr.strip().splitlines() == [
        f"plot: {run_dir / 'learning-curves.png'}",
        f"plot: {run_dir / 'forecast.png'}",
        f"plot: {run_dir / 'scores.png'}",
        f"report: {run_dir / 'report.html'}",
    ]


def test_the_cli_does_not_import_matplotlib_or_scipy() -> None:
    code = (
        "import sys, lstmctl.cli; "
        "print(sorted(m for m in ('matplotlib', 'scipy', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
