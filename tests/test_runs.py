"""Run history: `runs list|show|compare` on real tiny runs and on run folders with known scores."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from tiny_runs import tiny_spec_file
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.errors import UsageError
from lstmctl.history.compare import compare_runs, significance
from lstmctl.history.runs import load_run, resolve_run
from lstmctl.rundir import run_started

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Two real tiny runs in one runs folder: (folder, [older, newer])."""
    folder = tmp_path_factory.mktemp("history")
    spec = tiny_spec_file(folder)
    dirs = []
    for units in ("1", "4"):
        r = invoke("run", str(spec), "-f", "json", "--set", f"model.units={units}")
        assert r.exit_code == 0, r.stderr
        dirs.append(Path(json.loads(r.stdout)["run_dir"]))
    return folder / "runs", dirs


def fake_run(
    root: Path,
    folder: str,
    values: dict[str, list[float]],
    baseline: float = 136.761,
    windows: int = 12,
    complete: bool = True,
) -> Path:
    """A run directory with chosen per-repeat scores, as `lstmctl run` writes it."""
    d = root / folder
    (d / "history").mkdir(parents=True)
    metrics = {m: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)), "values": v}
               for m, v in values.items()}  # fmt: skip
    results = {
        "name": folder.rsplit("-", 2)[0],
        "arch": "vanilla",
        "repeats": len(next(iter(values.values()))),
        "metrics": metrics,
        "baselines": {"persistence": {m: baseline for m in values}},
        "per_repeat": [],
        "failed": [],
        "test_windows": windows,
        "trainer": "fused",
        "complete": complete,
        "seconds": 1.5,
    }
    (d / "results.json").write_text(json.dumps(results))
    (d / "spec.yaml").write_text("name: x\nmodel: {arch: vanilla}\n")
    return d


# ------------------------------------------------------------------ list and show


def test_runs_list_json_newest_first(history: tuple[Path, list[Path]]) -> None:
    root, (older, newer) = history
    r = invoke("runs", "list", "--dir", str(root), "-f", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["run"] for row in rows] == [newer.name, older.name]
    first = rows[0]
    results = json.loads((newer / "results.json").read_text())
    assert first["name"] == "tiny" and first["arch"] == "vanilla" and first["metric"] == "rmse"
    assert first["mean"] == pytest.approx(results["metrics"]["rmse"]["mean"])
    assert first["std"] == pytest.approx(results["metrics"]["rmse"]["std"])
    assert first["repeats"] == 2 and first["state"] == "complete" and first["seconds"] > 0
    assert datetime.fromisoformat(first["started"]) >= datetime.fromisoformat(rows[1]["started"])


def test_runs_list_table_csv_and_filters(history: tuple[Path, list[Path]]) -> None:
    root, (older, newer) = history
    table = invoke("runs", "list", "--dir", str(root))
    assert table.exit_code == 0 and "±" in table.stdout and newer.name in table.stdout
    rows = list(
        csv.DictReader(io.StringIO(invoke("runs", "list", "-d", str(root), "-f", "csv").stdout))
    )
    assert len(rows) == 2 and {"run", "mean", "std", "state"} <= set(rows[0])
    mae = json.loads(invoke("runs", "list", "-d", str(root), "-f", "json", "-m", "mae").stdout)
    assert {row["metric"] for row in mae} == {"mae"}
    assert json.loads(invoke("runs", "list", "-d", str(root), "-f", "json", "-n", "1").stdout)[0][
        "run"
    ] == newer.name  # fmt: skip
    assert json.loads(invoke("runs", "list", "other", "-d", str(root), "-f", "json").stdout) == []


def test_runs_list_of_an_empty_folder(tmp_path: Path) -> None:
    r = invoke("runs", "list", "--dir", str(tmp_path / "none"))
    assert r.exit_code == 0 and r.stdout == "" and "no runs" in r.stderr


def test_runs_show_by_name_folder_or_path(history: tuple[Path, list[Path]]) -> None:
    root, (older, newer) = history
    assert resolve_run("tiny", root) == newer  # a spec name means its latest run
    assert resolve_run(older.name, root) == older
    assert resolve_run(str(older), root) == older
    r = invoke("runs", "show", older.name, "--dir", str(root), "-f", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["run_dir"] == str(older) and data["state"] == "complete"
    assert {"results.json", "report.html", "forecasts.csv", "learning-curves.png"} <= set(
        data["files"]
    )
    assert data["metrics"]["rmse"]["values"] == json.loads((older / "results.json").read_text())[
        "metrics"
    ]["rmse"]["values"]  # fmt: skip
    table = invoke("runs", "show", "tiny", "--dir", str(root))
    assert table.exit_code == 0 and newer.name in table.stdout and "persistence" in table.stdout
    rows = list(
        csv.DictReader(
            io.StringIO(invoke("runs", "show", "tiny", "-d", str(root), "-f", "csv").stdout)
        )
    )
    assert [row["repeat"] for row in rows] == ["1", "2"]


def test_runs_show_unknown_run_is_a_usage_error(history: tuple[Path, list[Path]]) -> None:
    root, _ = history
    r = invoke("runs", "show", "nosuch", "--dir", str(root))
    assert r.exit_code == 2 and r.stdout == ""
    assert "nosuch" in r.stderr and "tiny" in r.stderr  # names what is there


def test_run_started_reads_the_folder_stamp(tmp_path: Path) -> None:
    assert run_started(tmp_path / "x-20261123-101500") == datetime(2026, 11, 23, 10, 15)
    assert run_started(tmp_path / "x-20261123-101500-2") == datetime(2026, 11, 23, 10, 15)


def test_incomplete_runs_are_listed_as_such(tmp_path: Path) -> None:
    fake_run(tmp_path, "cut-20260101-000000", {"rmse": [1.0, 2.0]}, complete=False)
    (tmp_path / "not-a-run").mkdir()  # ignored: no results.json
    rows = json.loads(invoke("runs", "list", "-d", str(tmp_path), "-f", "json").stdout)
    assert [(r["run"], r["state"]) for r in rows] == [("cut-20260101-000000", "incomplete")]


# ------------------------------------------------------------------ compare


def draws(mean: float, seed: int, n: int = 20) -> list[float]:
    return list(np.random.default_rng(seed).normal(mean, 5.0, n))


def test_compare_detects_a_real_difference(tmp_path: Path) -> None:
    a = fake_run(tmp_path, "a-20260101-000000", {"rmse": draws(100, 1), "mae": draws(80, 2)})
    b = fake_run(tmp_path, "b-20260101-000001", {"rmse": draws(90, 3), "mae": draws(80, 4)})
    cmp = compare_runs(load_run(a), load_run(b))
    rmse, mae = cmp.metrics
    assert rmse.metric == "rmse" and rmse.significant and rmse.better == "b"
    assert rmse.diff == pytest.approx(np.mean(draws(90, 3)) - np.mean(draws(100, 1)))
    assert rmse.welch_p is not None and rmse.welch_p < 0.001
    assert rmse.mannwhitney_p is not None and rmse.mannwhitney_p < 0.001
    assert not mae.significant and mae.better is None  # same distribution for mae
    assert cmp.notes == []


def test_compare_does_not_flag_identical_distributions(tmp_path: Path) -> None:
    a = fake_run(tmp_path, "a-20260101-000000", {"rmse": draws(100, 5)})
    same = fake_run(tmp_path, "c-20260101-000002", {"rmse": draws(100, 5)})
    for test in ("welch", "mannwhitney"):
        (m,) = compare_runs(load_run(a), load_run(same), test=test).metrics
        assert m.p == pytest.approx(1.0) and m.diff == 0.0 and not m.significant
    # Repeats drawn from one distribution are flagged at about the rate alpha, no more.
    pairs = [(draws(100, 2 * k), draws(100, 2 * k + 1)) for k in range(200)]
    for i, test in enumerate(("welch", "mannwhitney")):
        flagged = sum(significance(x, y)[i] < 0.05 for x, y in pairs)  # type: ignore[operator]
        assert flagged <= 20, f"{test}: {flagged} of 200 same-distribution pairs flagged"


def test_higher_accuracy_is_better(tmp_path: Path) -> None:
    a = fake_run(tmp_path, "a-20260101-000000", {"accuracy": [0.70, 0.72, 0.71, 0.69, 0.70]})
    b = fake_run(tmp_path, "b-20260101-000001", {"accuracy": [0.90, 0.91, 0.92, 0.90, 0.89]})
    (m,) = compare_runs(load_run(a), load_run(b)).metrics
    assert m.significant and m.better == "b" and m.diff is not None and m.diff > 0


def test_significance_needs_repeats() -> None:
    assert significance([1.0], [2.0, 3.0])[0] is None  # no variance estimate from one value
    welch, mw = significance([1.0, 1.0], [2.0, 2.0])
    assert welch == 0.0  # no spread: the difference is certain
    assert mw is not None and mw > 0.05  # but two ranks each can never be significant
    assert significance([], [1.0]) == (None, None)


def test_compare_command_json_csv_notes_and_plot(tmp_path: Path) -> None:
    a = fake_run(tmp_path, "a-20260101-000000", {"rmse": draws(100, 1)})
    b = fake_run(tmp_path, "b-20260101-000001", {"rmse": draws(90, 3)}, baseline=120.0, windows=10)
    r = invoke("runs", "compare", str(a), str(b), "-f", "json", "--test", "mannwhitney")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["test"] == "mannwhitney" and data["metrics"]["rmse"]["better"] == "b"
    assert any("different test parts" in n for n in data["notes"])
    assert any("baselines differ" in n for n in data["notes"])
    rows = list(
        csv.DictReader(io.StringIO(invoke("runs", "compare", str(a), str(b), "-f", "csv").stdout))
    )
    assert rows[0]["metric"] == "rmse" and rows[0]["significant"] == "True"
    png = tmp_path / "cmp.png"
    r = invoke("runs", "compare", "a", "b", "--dir", str(tmp_path), "--plot", str(png))
    assert r.exit_code == 0, r.stderr
    assert "B better" in r.stdout and "note:" in r.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"plot: {png}" in r.stderr


def test_compare_errors_are_usage_errors(tmp_path: Path) -> None:
    a = fake_run(tmp_path, "a-20260101-000000", {"rmse": [1.0, 2.0]})
    b = fake_run(tmp_path, "b-20260101-000001", {"accuracy": [0.5, 0.6]})
    with pytest.raises(UsageError, match="share no metric"):
        compare_runs(load_run(a), load_run(b))
    r = invoke("runs", "compare", str(a), str(a), "--alpha", "2")
    assert r.exit_code == 2 and "--alpha" in r.stderr
    r = invoke("runs", "compare", str(a), str(tmp_path / "missing"))
    assert r.exit_code == 2 and "missing" in r.stderr


@pytest.mark.parametrize(
    ("results", "fragment"),
    [
        ('{"name": 3', "expected results JSON, found unreadable content"),
        ("[]", "expected a JSON object of results"),
        ('{"per_repeat": 5}', "expected per_repeat to be list, found int 5"),
        ('{"per_repeat": [1, 2]}', "expected per_repeat to hold objects, found a int"),
        ('{"metrics": {"rmse": 3}}', "expected metrics.rmse to be an object"),
        ('{"complete": "yes"}', "expected complete to be bool"),
    ],
)
def test_a_damaged_results_file_is_named_not_a_traceback(
    tmp_path: Path, results: str, fragment: str
) -> None:
    run = fake_run(tmp_path, "damaged-20260101-000000", {"rmse": [1.0, 2.0]})
    (run / "results.json").write_text(results)
    good = fake_run(tmp_path, "good-20260101-000001", {"rmse": [1.0, 2.0]})
    res = invoke("runs", "show", str(run))
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and fragment in res.stderr, res.stderr
    # `runs list` still lists the good run, and names the damaged one on stderr.
    res = invoke("runs", "list", "--dir", str(tmp_path), "-f", "json")
    assert res.exit_code == 0
    assert [r["run"] for r in json.loads(res.stdout)] == [good.name]
    assert "skipped a damaged run" in res.stderr and run.name in res.stderr


# ------------------------------------------------------------------ tune studies and null scores


def fake_study(root: Path, folder: str, trials: list[tuple[str, list[float | None]]]) -> Path:
    """A tune run directory as `lstmctl tune` writes it: trials best first, a compile cache."""
    d = root / folder
    (d / "jax-cache").mkdir(parents=True)
    for i in range(30):  # JAX's compiled programs: internals, not results
        (d / "jax-cache" / f"jit_add-{i:064x}-cache").write_bytes(b"x")
    rows = []
    for n, (state, values) in enumerate(trials):
        finite = [v for v in values if v is not None]
        summary = (
            {"mean": float(np.mean(finite)), "std": float(np.std(finite, ddof=1))} if finite else {}
        )
        rows.append({
            "trial": n, "state": state, "params": {"model.units": 2 + 2 * n},
            "metrics": {"rmse": {**summary, "values": values}},
            "scores": {"rmse": values, "mae": [None if v is None else v / 2 for v in values]},
            "repeats": len(values), "seconds": 2.5,
            "note": "" if state == "complete" else "trial: every repeat failed",
            "worker": "host:1",
        })  # fmt: skip
    first = rows[0]
    best = None
    if first["state"] == "complete":
        best = {"trial": 0, "params": first["params"], "metrics": first["metrics"],
                "baselines": {"rmse": 9.0}, "spec": {"model": {"arch": "stacked"}}}  # fmt: skip
    results = {
        "name": folder.rsplit("-", 3)[0], "study": "s", "storage": "sqlite:///study.db",
        "strategy": "grid", "objective": {"metric": "rmse", "summary": "mean",
                                          "direction": "minimize"},
        "repeats_per_trial": 2, "trials": rows,
        "counts": {s: sum(1 for r in rows if r["state"] == s) for s in {r["state"] for r in rows}},
        "best": best, "complete": True, "run_dir": str(d), "seconds": 7.0,
        "study_seconds": 6.0, "workers": 1, "lstmctl": "0.1.0",
    }  # fmt: skip
    (d / "results.json").write_text(json.dumps(results))
    (d / "spec.yaml").write_text("name: x\nmodel: {arch: vanilla}\n")
    (d / "trials.csv").write_text("trial\n0\n")
    return d


def test_runs_show_of_a_tune_study_shows_its_trials_and_best(tmp_path: Path) -> None:
    fake_run(tmp_path, "tiny-20260101-000000", {"rmse": [3.0, 3.2]})
    study = fake_study(
        tmp_path, "tiny-tune-20260102-000000", [("complete", [2.9, 3.1]), ("complete", [4.0, 5.0])]
    )
    # `runs show tiny`: the latest run of that name is the study.
    r = invoke("runs", "show", "tiny", "--dir", str(tmp_path))
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "tune study" in out and "2 trials (2 complete)" in out and "of ?" not in out
    assert "best: trial #0, rmse 3.000 ± 0.141 over 2 repeats: model.units=2" in out
    assert "model.units" in out and "4.500" in out  # the trials table, best first
    assert "jax-cache/jit" not in out and "jax-cache/" in out
    c = invoke("runs", "show", "tiny", "-d", str(tmp_path), "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(c.stdout)))
    assert [(row["trial"], row["state"], row["model.units"]) for row in rows] == [
        ("0", "complete", "2"),
        ("1", "complete", "4"),
    ]
    assert float(rows[1]["rmse_mean"]) == pytest.approx(4.5)
    data = json.loads(invoke("runs", "show", str(study), "-f", "json").stdout)
    assert data["kind"] == "tune" and data["state"] == "complete"
    assert not [f for f in data["files"] if f.startswith("jax-cache/jit")]
    assert {"results.json", "trials.csv", "jax-cache/"} <= set(data["files"])


def test_runs_list_counts_trials_and_fails_a_study_whose_every_trial_failed(
    tmp_path: Path,
) -> None:
    fake_study(
        tmp_path, "good-tune-20260101-000000", [("complete", [2.9, 3.1]), ("failed", [None])]
    )
    fake_study(tmp_path, "bad-tune-20260102-000000", [("failed", [None, None])])
    r = invoke("runs", "list", "-d", str(tmp_path), "-f", "json")
    assert r.exit_code == 0, r.stderr
    bad, good = json.loads(r.stdout)
    assert (bad["kind"], bad["state"], bad["trials"], bad["mean"]) == ("tune", "failed", 1, None)
    assert (good["state"], good["trials"], good["repeats"]) == ("complete (1 failed)", 2, 2)
    assert good["arch"] == "stacked" and good["mean"] == pytest.approx(3.0)
    table = invoke("runs", "list", "-d", str(tmp_path)).stdout
    assert "2 trials" in table and "1 trial " in table and "failed" in table


def test_null_scores_are_read_as_missing(tmp_path: Path) -> None:
    # results.json is strict JSON: a diverged repeat's scores are null, not NaN.
    run = fake_run(tmp_path, "div-20260101-000000", {"rmse": [1.0, 2.0]})
    results = json.loads((run / "results.json").read_text())
    results["metrics"]["rmse"].update(mean=None, std=None, values=[1.0, None])
    failed = {"repeat": 2, "rmse": None, "error": "loss became NaN"}
    results["per_repeat"] = [{"repeat": 1, "rmse": 1.0}, failed]
    (run / "results.json").write_text(json.dumps(results))
    other = fake_run(tmp_path, "b-20260101-000001", {"rmse": [1.5, 2.5]})
    r = invoke("runs", "show", str(run))
    assert r.exit_code == 0, r.stderr
    assert "loss became NaN" in r.stdout
    assert invoke("runs", "list", "-d", str(tmp_path)).exit_code == 0
    r = invoke("runs", "compare", str(run), str(other), "-f", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["metrics"]["rmse"]["a_n"] == 1
