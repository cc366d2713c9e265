"""`make bench`: the same work side by side, in one process run, as ratios.

Each contender runs in its own child process, timed by wall clock, its peak
memory (RSS) read from the kernel's accounting of that child. The machine is
shared and noisy, so compare ratios taken in the same run, not absolute
seconds across runs. Slow baselines run a smaller workload and are scaled up
linearly; the table says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
LSTMCTL = [PY, "-m", "lstmctl.cli"]
QUIET = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}


@dataclass
class Row:
    workload: str
    contender: str
    seconds: float
    rss_mb: float
    note: str = ""


def child(
    cmd: list[str], cwd: Path = ROOT, stdin: str | None = None, extra: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, peak RSS in MB, stdout)."""
    env = {**os.environ, **QUIET, **(extra or {})}
    env.pop("KERAS_BACKEND", None)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            text=True,
        )
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.read()[-2000:]}")
        return seconds, usage.ru_maxrss / 1024, out.read()


def shampoo(rows: list[Row], runs: Path) -> None:
    spec = "configs/shampoo.yaml"
    secs, rss, out = child([*LSTMCTL, "-q", "run", spec, "-f", "json", "--out", str(runs)])
    rmse = json.loads(out)["metrics"]["rmse"]
    rows.append(
        Row(
            "shampoo 30x1000",
            "lstmctl run (end to end)",
            secs,
            rss,
            f"RMSE {rmse['mean']:.1f} ± {rmse['std']:.1f}",
        )
    )
    # Compiling is most of it: a new compile cache (cold), then the same one again (warm).
    cold = {"LSTMCTL_JAX_CACHE": str(runs / "jax-cache")}
    for label in ("cold compile cache", "warm compile cache"):
        secs, rss, out = child([PY, str(HERE / "lstmctl_train.py"), spec], extra=cold)
        rows.append(Row("shampoo 30x1000", f"lstmctl training only, {label}", float(out), rss))
    secs1, rss1, _ = child(
        [
            *LSTMCTL,
            "-q",
            "run",
            spec,
            "-f",
            "json",
            "--out",
            str(runs),
            "--set",
            "evaluate.repeats=1",
        ]
    )
    rows.append(
        Row(
            "shampoo 1x1000",
            "lstmctl run, one repeat",
            secs1,
            rss1,
            f"memory of 30 repeats / 1: {rss / rss1:.2f}x",
        )
    )
    # The reader's loops: one fit of fewer epochs, scaled to 30 x 1000.
    e = 100
    t, rss_k, _ = child([PY, str(HERE / "reader_keras.py"), "1", str(e)], cwd=HERE)
    rows.append(
        Row(
            "shampoo 30x1000",
            "hand-written Keras/TF loop",
            t * 30 * 1000 / e,
            rss_k,
            f"1 fit x {e} epochs ({t:.1f} s), scaled x{30 * 1000 // e}",
        )
    )
    e = 1000
    t, rss_t, _ = child([PY, str(HERE / "reader_torch.py"), "1", str(e)], cwd=HERE)
    rows.append(
        Row(
            "shampoo 30x1000",
            "hand-written PyTorch loop",
            t * 30,
            rss_t,
            f"1 fit x {e} epochs ({t:.1f} s), scaled x30",
        )
    )


def damped(rows: list[Row], runs: Path) -> None:
    spec = "configs/damped_sine.yaml"  # 3 repeats x 5 epochs of a stacked 2 x LSTM(20)
    secs, rss, out = child([*LSTMCTL, "-q", "run", spec, "-f", "json", "--out", str(runs)])
    mae = json.loads(out)["metrics"]["mae"]["mean"]
    rows.append(Row("damped sine 3x5", "lstmctl run (end to end)", secs, rss, f"MAE {mae:.4f}"))
    for who, label in (
        ("keras", "hand-written Keras/TF fit"),
        ("torch", "hand-written PyTorch loop"),
    ):
        t, r, _ = child([PY, str(HERE / "reader_damped.py"), who, "1", "1"], cwd=HERE)
        rows.append(
            Row("damped sine 3x5", label, t * 15, r, f"1 fit x 1 epoch ({t:.1f} s), scaled x15")
        )


def tuning(rows: list[Row], runs: Path) -> None:
    # 12 configurations (batch 1/2/4 x units 1/2/3/5) x 10 repeats x 1000 epochs, no pruning.
    secs, rss, out = child(
        [
            *LSTMCTL,
            "-q",
            "tune",
            "configs/tune_shampoo.yaml",
            "-f",
            "json",
            "--out",
            str(runs),
            "--set",
            "tune.space={train.batch_size: [1, 2, 4], model.units: [1, 2, 3, 5]}",
            "--set",
            "tune.repeats=10",
            "--set",
            "tune.pruning.repeats=null",
        ]
    )
    rows.append(Row("tune grid 12x10", "lstmctl tune (end to end)", secs, rss, "target < 30 s"))
    # A reader's loop costs per optimizer step: batches 1, 2, 4 make 20, 10, 5 steps an epoch.
    e = 50
    t, r, _ = child([PY, str(HERE / "reader_keras.py"), "1", str(e)], cwd=HERE)
    steps = 10 * 4 * 1000 * (20 + 10 + 5)
    rows.append(
        Row(
            "tune grid 12x10",
            "hand-written Keras/TF loop",
            t / (e * 5) * steps,
            r,
            f"1 fit x {e} epochs, scaled by optimizer steps",
        )
    )


def predict(rows: list[Row], tmp: Path) -> None:
    """One model against an ensemble of 10 (one onnxruntime session per member)."""
    one = 0.0
    for members, extra, note in (
        ("1", [], "ONNX engine; target < 1 s"),
        ("10", ["--interval", "0.8", "--interval", "0.95"], "10 members + 2 intervals; < 1.5 s"),
    ):
        saved = tmp / f"airline-{members}"
        finalize = [*LSTMCTL, "-q", "finalize", "configs/finalize_airline.yaml"]
        child([*finalize, "--out", str(saved), "--members", members])
        cmd = [*LSTMCTL, "predict", "--model", str(saved), "--horizon", "12", *extra]
        best = min((child(cmd) for _ in range(3)), key=lambda x: x[0])
        one = one or best[0]
        if members != "1":
            note += f"; {best[0] / one:.2f}x one member (target <= 1.5x)"
        rows.append(
            Row(
                "predict airline",
                f"lstmctl predict --horizon 12, {members} member(s) (best of 3)",
                best[0],
                best[1],
                note,
            )
        )


def backtest(rows: list[Row], runs: Path) -> None:
    """5 folds x 30 repeats fused against 1 fold x 30 (issue: at most 3x)."""
    base = [*LSTMCTL, "-q", "run", "configs/shampoo.yaml", "-f", "json", "--out", str(runs)]
    only = ["--set", "evaluate.baselines=[persistence]"]
    first = 0.0
    for folds in (1, 5):
        bt = f"evaluate.backtest={{folds: {folds}, step: 3, window: expanding}}"
        secs, rss, out = child([*base, *only, "--set", bt])
        pooled = json.loads(out)["metrics"]["rmse"]
        first = first or secs
        ratio = f"; {secs / first:.2f}x one fold (target <= 3x)" if folds > 1 else ""
        rows.append(
            Row(
                "backtest shampoo x30",
                f"lstmctl run, {folds} fold(s) x 30 repeats",
                secs,
                rss,
                f"pooled RMSE {pooled['mean']:.1f} ± {pooled['std']:.1f}{ratio}",
            )
        )


def panel(rows: list[Row], runs: Path) -> None:
    """The shipped panel end to end, and preparing a synthetic 1000-series panel."""
    secs, rss, out = child(
        [*LSTMCTL, "-q", "run", "configs/panel.yaml", "-f", "json", "--out", str(runs)]
    )
    res = json.loads(out)
    beat = sum(
        1
        for s in res["per_series"].values()
        if s["metrics"]["mase"]["mean"] < s["baselines"]["persistence"]["mase"]
    )
    mase = res["metrics"]["mase"]
    rows.append(
        Row(
            "panel macro 7 series x5",
            "lstmctl run (end to end)",
            secs,
            rss,
            f"MASE {mase['mean']:.3f} ± {mase['std']:.3f}; {beat} of 7 beat persistence",
        )
    )
    secs, rss, out = child([PY, str(HERE / "panel_prepare.py"), "1000", "200", "24"])
    p = json.loads(out)
    rows.append(
        Row(
            "panel 1000 x 200 rows",
            "lstmctl prepare (in process)",
            p["seconds"],
            rss,
            f"windows {p['windows_mb']:.1f} MB vs values {p['values_mb']:.1f} MB "
            f"({p['windows_mb'] / p['values_mb']:.1f}x: by index; "
            f"{p['copies_mb']:.0f} MB as copies)",
        )
    )


def panel_training(rows: list[Row], runs: Path) -> None:
    """1,000 series x 200 steps, look-back 24, LSTM(32), 5 repeats x 10 epochs (issue 13).

    One global model (preparing and training timed apart, in one child), the
    same series as separate single-series specs (a few, scaled up), and
    NeuralForecast's LSTM when it is installed (an optional contender).
    """
    del runs  # the children write to their own temporary folders
    n, steps, lookback, units, repeats, epochs = 1000, 200, 24, 32, 5, 10
    work = f"panel {n}x{steps} LSTM({units}) {repeats}x{epochs}"
    sizes = [str(v) for v in (steps, lookback, units, repeats, epochs)]
    train = [PY, str(HERE / "panel_train.py")]
    _, rss, out = child([*train, "panel", str(n), *sizes], cwd=HERE)
    t = json.loads(out)
    if t["failed"]:
        raise RuntimeError(f"panel repeats failed: {t['failed'][0]}")
    total = t["prepare_s"] + t["train_s"]
    steps_per_epoch = -(-t["windows"] // 32)  # batch 32, the spec's default
    per_epoch = (t["train_s"] - t["compile_s"]) / max(1, epochs - 1)
    compile_s = max(0.0, t["compile_s"] - per_epoch)  # the log's first call runs an epoch too
    rows.append(
        Row(
            work,
            "lstmctl prepare + train (one global model)",
            total,
            rss,
            "fit_repeats, in process",
        )
    )
    _, rss_p, out = child([PY, str(HERE / "panel_prepare.py"), str(n), str(steps), str(lookback)])
    p = json.loads(out)
    grew = p["rss_mb"] - p["rss_base_mb"]
    rows.append(
        Row(
            work,
            "lstmctl prepare only",
            p["seconds"],
            rss_p,
            f"RSS +{grew:.0f} MB while preparing = {grew / p['frame_mb']:.1f}x the CSV's frame "
            f"({p['frame_mb']:.1f} MB deep), {grew / p['values_mb']:.0f}x its floats "
            f"({p['values_mb']:.1f} MB); windows {p['windows_mb']:.1f} MB by index "
            f"({p['copies_mb']:.0f} MB as copies); target <= 3x",
        )
    )
    rows.append(
        Row(
            work,
            f"lstmctl training only, {repeats} repeats fused",
            t["train_s"],
            rss,
            f"compiling ~{compile_s:.1f} s (1st call {t['compile_s']:.1f} s), "
            f"then {per_epoch:.1f} s/epoch "
            f"({t['windows']} windows, {steps_per_epoch} steps of 32 x {repeats} replicas); "
            f"RSS {t['rss_start_mb']:.0f} MB after imports, {t['rss_prepare_mb']:.0f} prepared",
        )
    )
    k = 5
    _, rss_s, out = child([*train, "single", str(k), *sizes], cwd=HERE)
    single = json.loads(out)["runs"]
    each = [r["prepare_s"] + r["train_s"] for r in single]
    rows.append(
        Row(
            work,
            f"{n} single-series specs (projected)",
            sum(each) * n / k,
            rss_s,
            f"{k} fits of one series each in one process ({each[0]:.1f} s with the first "
            f"compile, then {min(each[1:]):.2f}-{max(each[1:]):.2f} s), sum x{n // k}",
        )
    )
    # NeuralForecast: a few optimizer steps, scaled to lstmctl's (windows of 32, each repeat).
    nf_steps = 200
    try:
        _, rss_n, out = child(
            [PY, str(HERE / "panel_neuralforecast.py"), str(n), *sizes[:3], str(nf_steps)],
            cwd=HERE,
        )
        nf = json.loads(out)
    except RuntimeError as e:  # optional: a broken install must not hide the rows above
        nf, rss_n = {"skipped": f"failed: {str(e)[-120:]}"}, 0.0
    if "skipped" in nf:
        rows.append(Row(work, "NeuralForecast LSTM: skipped", 0.0, 0.0, nf["skipped"]))
        return
    lstmctl_steps = steps_per_epoch * epochs * repeats
    rows.append(
        Row(
            work,
            "NeuralForecast LSTM (global, projected)",
            nf["seconds"] * lstmctl_steps / nf["steps"],
            rss_n,
            f"{nf['steps']} steps in {nf['seconds']:.1f} s, scaled to {lstmctl_steps} "
            f"({repeats} fits x {epochs} epochs x {steps_per_epoch}); target >= 3x",
        )
    )


def startup(rows: list[Row]) -> None:
    best = min(child([*LSTMCTL, "--help"])[0] for _ in range(5))
    rows.append(Row("start-up", "lstmctl --help (best of 5)", best, 0.0, "target < 0.3 s"))


def render(rows: list[Row]) -> None:
    table = Table(title="lstmctl benchmark (wall seconds; ratio = contender / lstmctl)")
    for col in ("workload", "contender", "seconds", "x lstmctl", "peak RSS MB", "note"):
        table.add_column(
            col, justify="right" if col in {"seconds", "x lstmctl", "peak RSS MB"} else "left"
        )
    base: dict[str, float] = {}
    for r in rows:  # ratios against lstmctl end to end: the first lstmctl row of a workload
        if r.contender.startswith("lstmctl"):
            base.setdefault(r.workload, r.seconds)
    for r in rows:
        ref = base.get(r.workload)
        skip = r.contender.startswith("lstmctl") or not ref or not r.seconds  # 0 s: skipped
        q = r.seconds / ref if ref else 0.0
        ratio = "" if skip else f"{q:.0f}x" if q >= 10 else f"{q:.1f}x"
        table.add_row(
            r.workload,
            r.contender,
            f"{r.seconds:.2f}",
            ratio,
            f"{r.rss_mb:.0f}" if r.rss_mb else "",
            r.note,
        )
    Console(width=160).print(table)


WORKLOADS = (startup, shampoo, predict, backtest, panel, panel_training, damped, tuning)


def main() -> None:
    """Every workload, or those named on the command line (``bench.py panel panel_training``)."""
    names = {w.__name__: w for w in WORKLOADS}
    unknown = [a for a in sys.argv[1:] if a not in names]
    if unknown:
        print(
            f"bench.py: unknown workload {unknown[0]!r}; expected some of {', '.join(names)}",
            file=sys.stderr,
        )
        sys.exit(2)
    chosen = [names[a] for a in sys.argv[1:]] or list(WORKLOADS)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for workload in chosen:
            try:
                workload(rows) if workload is startup else workload(rows, Path(tmp))
            except RuntimeError as e:  # one broken workload must not hide the others
                rows.append(Row(workload.__name__, "FAILED", 0.0, 0.0, str(e)[-200:]))
    render(rows)


if __name__ == "__main__":
    main()
