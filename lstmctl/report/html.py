"""``report.html``: one self-contained page per run, the thing a user sends to a colleague.

Built from the run directory's files alone (results.json, spec.yaml, the
PNGs, diagnosis.json when ``diagnose`` wrote one), so it can be rebuilt at any
time; images are embedded as data URIs, so the page travels as one file.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

from lstmctl import __version__
from lstmctl.rundir import run_started, write_atomic

REPORT = "report.html"

# Known figures first, in reading order, with what they show.
CAPTIONS = {
    "learning-curves.png": (
        "Learning curves: training (solid) and validation (dashed) loss per epoch of every "
        "repeat; dots mark each repeat's lowest validation loss."
    ),
    "forecast.png": (
        "Forecast vs actual on the test part, in original units: the ensemble of the repeats "
        "(shaded: its conformally calibrated prediction intervals, when asked for) or, for a "
        "single repeat, the repeat with the median score; beside the persistence baseline."
    ),
    "backtest.png": (
        "Backtest: the score of each fold (test period) for the repeats (mean, with their "
        "spread) and each baseline, then pooled over every fold's targets."
    ),
    "per-step.png": (
        "The error at each forecast step of the horizon, for the ensemble and each baseline."
    ),
    "scores.png": (
        "The repeats' scores (box: quartiles; red line: median; triangle: mean; dots: "
        "every repeat) against the baseline."
    ),
}

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 2em auto;
       max-width: 1000px; color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } .meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 0.85em; }
.verdict { font-size: 1.2em; font-weight: bold; } .bad { color: #b00020; }
.good { color: #1b7f3b; } th.text, td.text { text-align: left; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(x: Any) -> str:
    if x is None or x == "":
        return "-"
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)  # repeat numbers, seeds, epochs: counts, not scores
    try:
        v = float(x)
    except (TypeError, ValueError):
        return _e(x)
    if not math.isfinite(v):
        return "nan"
    # Scores in original units read best with 3 decimals; small losses need significant digits.
    return f"{v:.4g}" if abs(v) >= 1e5 or abs(v) < 1 else f"{v:.3f}"


def _table(header: list[str], rows: list[list[str]], text: frozenset[str] = frozenset()) -> str:
    """An HTML table of already-escaped cells; columns named in ``text`` are left-aligned."""
    left = [' class="text"' if h in text else "" for h in header]
    head = "".join(f"<th{a}>{_e(h)}</th>" for h, a in zip(header, left, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{a}>{c}</td>" for c, a in zip(row, left, strict=True)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary(results: dict[str, Any]) -> str:
    baselines: dict[str, dict[str, float]] = results.get("baselines") or {}
    skill: dict[str, dict[str, float | None]] = results.get("skill") or {}
    header = ["metric", "mean", "std", "min", "median", "max"]
    for name in baselines:
        header += [name, "skill"]
    rows = []
    for m, s in (results.get("metrics") or {}).items():
        row = [_e(m)] + [_num(s.get(c)) for c in ("mean", "std", "min", "median", "max")]
        for name, base in baselines.items():
            row.append(_num(base.get(m)))
            sk = (skill.get(name) or {}).get(m)
            row.append("-" if sk is None else f"{sk:+.1%}")
        rows.append(row)
    return _table(header, rows)


def _compared(results: dict[str, Any]) -> str:
    """The ensemble, the repeats' mean and every baseline, side by side."""
    ens = results.get("ensemble") or {}
    metrics = [m for m in (results.get("metrics") or {}) if m in ens]
    rows = [
        [f"repeats (mean of {results.get('repeats', '?')})"]
        + [_num(results["metrics"][m].get("mean")) for m in metrics],
        [f"ensemble of {ens.get('members', '?')}"] + [_num(ens.get(m)) for m in metrics],
    ]
    for name, base in (results.get("baselines") or {}).items():
        rows.append([_e(name)] + [_num(base.get(m)) for m in metrics])
    out = _table(["forecast", *metrics], rows, frozenset({"forecast"}))
    sig = results.get("significance")
    if sig:
        share = sig.get("repeats_better")
        beat = f"; {share:.0%} of the repeats beat it" if share is not None else ""
        out += (
            f"<p><b>Verdict</b> ({_e(sig.get('metric'))}, {_e(sig.get('test'))}): the ensemble "
            f"is {_e(sig.get('verdict'))}{beat}.</p>"
        )
    return out


def _backtest(results: dict[str, Any]) -> str:
    """Per fold and pooled: the repeats' mean ± std and each baseline, on each metric."""
    bt = results.get("backtest") or {}
    settings = bt.get("settings") or {}
    metrics = list(results.get("metrics") or {})
    names = list((bt.get("pooled") or {}).get("baselines") or {})
    out = (
        f"<p>{settings.get('folds', '?')} folds, {settings.get('step', '?')} steps apart, "
        f"{_e(settings.get('window', '?'))} training window, "
        f"{'refitted on each fold' if settings.get('refit', True) else 'fitted once'}.</p>"
    )
    for m in metrics:
        rows = []
        for f in [*bt.get("folds", []), {"fold": "pooled", **(bt.get("pooled") or {})}]:
            s = (f.get("metrics") or {}).get(m) or {}
            test = f.get("test") or ["", ""]
            rows.append(
                [
                    _e(f.get("fold")),
                    _e(" .. ".join(test) if test[0] else ""),
                    _e(f.get("train_rows", "")),
                    f"{_num(s.get('mean'))} ± {_num(s.get('std'))}",
                ]
                + [_num(((f.get("baselines") or {}).get(b) or {}).get(m)) for b in names]
            )
        out += f"<h3>{_e(m)}</h3>" + _table(
            ["fold", "test", "train rows", "LSTM", *names], rows, frozenset({"test"})
        )
    return out


def _intervals(results: dict[str, Any]) -> str:
    cal = results.get("calibration") or {}
    rows = [
        [f"{float(level):.0%}", f"{sc.get('coverage', float('nan')):.1%}"]
        + [_num(sc.get(k)) for k in ("width", "winkler", "pinball_lo", "pinball_hi")]
        for level, sc in (results.get("intervals") or {}).items()
    ]
    header = ["level", "coverage", "width", "winkler", "pinball lo", "pinball hi"]
    crps = (results.get("ensemble") or {}).get("crps")
    note = (
        f"<p>Split conformal intervals from the ensemble's spread, calibrated on "
        f"{cal.get('windows', '?')} validation windows no repeat trained on; scored on the "
        f"test part. CRPS of the ensemble: {_num(crps)}.</p>"
    )
    return note + _table(header, rows)


def _repeats(results: dict[str, Any]) -> str:
    per = results.get("per_repeat") or []
    if not per:
        return "<p>No repeat finished.</p>"
    header = list(per[0])
    rows = [[_num(r.get(h)) if h != "error" else _e(r.get(h, "")) for h in header] for r in per]
    return _table(header, rows, frozenset({"error"}))


def _diagnosis(diag: dict[str, Any]) -> str:
    verdict = str(diag.get("verdict", ""))
    cls = "good" if verdict == "good fit" else "bad"
    parts = [
        f'<p class="verdict {cls}">{_e(verdict)}</p>',
        f"<p>{_e(diag.get('reason', ''))}</p>",
    ]
    if diag.get("advice"):
        parts.append(f"<p><em>{_e(diag['advice'])}</em></p>")
    rows = [
        [
            _e(r.get("repeat")),
            _e(r.get("verdict")),
            _e(r.get("epochs")),
            _e(r.get("best_epoch") or "-"),
            _num(r.get("train_final")),
            _num(r.get("val_best")),
            _num(r.get("val_final")),
            _e(r.get("reason", "")),
        ]
        for r in diag.get("repeats", [])
    ]
    header = ["repeat", "verdict", "epochs", "best epoch", "train loss", "best val", "final val"]
    parts.append(_table([*header, "evidence"], rows, frozenset({"verdict", "evidence"})))
    return "".join(parts)


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = CAPTIONS.get(path.name, path.stem.replace("-", " "))
    return (
        f'<figure><img alt="{_e(path.stem)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def render_report(run_dir: Path) -> str:
    """The HTML text of a run directory's report."""
    run_dir = Path(run_dir)
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    spec_path = run_dir / "spec.yaml"
    spec_text = spec_path.read_text(encoding="utf-8") if spec_path.exists() else ""
    diag_path = run_dir / "diagnosis.json"
    diag = json.loads(diag_path.read_text(encoding="utf-8")) if diag_path.exists() else None
    known = [run_dir / name for name in CAPTIONS if (run_dir / name).exists()]
    extra = sorted(p for p in run_dir.glob("*.png") if p.name not in CAPTIONS)

    name = results.get("name", run_dir.name)
    started = run_started(run_dir)
    state = "complete" if results.get("complete") else "incomplete"
    failed = len(results.get("failed") or [])
    meta = (
        f"{_e(results.get('arch', '?'))} · {results.get('repeats', 0)} repeats"
        f"{f' ({failed} failed)' if failed else ''} · {results.get('test_windows', '?')} "
        f"test windows · {_e(results.get('trainer', '?'))} trainer · "
        f"{float(results.get('seconds', 0.0)):.1f} s · {state}"
        f"{' · ' + started.strftime('%Y-%m-%d %H:%M:%S') if started else ''}"
    )
    body = [
        f"<h1>{_e(name)}</h1>",
        f'<p class="meta">{meta}<br><code>{_e(run_dir)}</code></p>',
    ]
    if diag is not None:
        body += ["<h2>Diagnosis</h2>", _diagnosis(diag)]
    body += [
        "<h2>Summary</h2>",
        "<p>Scores in the data's original units over the repeats; skill is the improvement "
        "over the baseline scored on exactly the same test targets.</p>",
        _summary(results),
    ]
    if results.get("backtest"):
        body += ["<h2>Backtest</h2>", _backtest(results)]
        sig = results.get("significance")
        if sig:
            body.append(
                f"<p><b>Pooled verdict</b> ({_e(sig.get('metric'))}, {_e(sig.get('test'))}): "
                f"the ensemble is {_e(sig.get('verdict'))}.</p>"
            )
    if results.get("ensemble"):
        body += ["<h2>Forecasts compared</h2>", _compared(results)]
    if results.get("intervals"):
        body += ["<h2>Prediction intervals</h2>", _intervals(results)]
    baselines = results.get("baselines") or {}
    if baselines:
        items = "".join(
            f"<li>{_e(b)}: " + ", ".join(f"{_e(m)} {_num(v)}" for m, v in scores.items()) + "</li>"
            for b, scores in baselines.items()
        )
        body += ["<h2>Baselines</h2>", f"<ul>{items}</ul>"]
    if known or extra:
        body += ["<h2>Plots</h2>", *(_figure(p) for p in [*known, *extra])]
    body += ["<h2>Repeats</h2>", _repeats(results)]
    body += ["<h2>Spec</h2>", f"<pre>{_e(spec_text)}</pre>"]
    body.append(
        f'<p class="meta">lstmctl {_e(results.get("lstmctl", __version__))}; '
        f"report written by lstmctl {_e(__version__)}.</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(name)} — lstmctl report</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def write_report(run_dir: Path) -> Path:
    """Write (or rewrite) ``report.html`` in a run directory; returns its path."""
    path = Path(run_dir) / REPORT
    write_atomic(path, render_report(Path(run_dir)))
    return path
