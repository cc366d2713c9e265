"""The repeats as an ensemble: a point forecast and calibrated prediction intervals.

A run fits every configuration R times with different seeds. Their forecasts,
stacked as ``(R, n, horizon, n_targets)`` in the data's original units, are
an ensemble: :func:`~lstmctl.evaluation.member_stats.ensemble` turns them into one
point forecast and :class:`Conformal` turns their disagreement into prediction intervals that are
calibrated on windows the members did not train on. How good those intervals
are (coverage, width, Winkler, pinball, CRPS): :mod:`lstmctl.evaluation.probabilistic`.

Only numpy is imported: ``predict`` loads this module and must start fast.

A failed repeat shows up as a member whose forecasts are NaN (or infinite);
every function here treats non-finite member values as missing and uses the
members that remain, point by point.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from lstmctl.errors import ModelDirError, RunError, SpecError
from lstmctl.evaluation.member_stats import ensemble, ensemble_spread, members_of

__all__ = [
    "Conformal",
    "check_pair",
    "level_key",
    "min_windows",
]

# (n + 1) * level is computed in floating point: 100 * 0.55 is 55.00000000000001,
# whose ceiling would ask for one order statistic more than the exact rule does.
_EPS = 1e-9
STATE_VERSION = 1


def level_key(level: float) -> str:
    """The key a level goes by in scores and state: ``0.8`` -> ``"0.8"``."""
    return f"{level:g}"


def min_windows(level: float) -> int:
    """Fewest calibration windows for which the ``level`` interval is finite.

    Split conformal takes the ceil((n + 1) * level)-th smallest of n scores;
    that rank exists only while (n + 1) * level <= n, i.e. n >= level / (1 - level):
    4 windows for 80%, 19 for 95%, 99 for 99%.
    """
    return max(1, math.ceil(level / (1.0 - level) - _EPS))


def _check_levels(levels: Sequence[float]) -> list[float]:
    """Levels as sorted distinct floats in (0, 1), each with its own key."""
    found = sorted({float(level) for level in levels})
    if not found:
        raise SpecError("expected at least one interval level, found none", "intervals.levels")
    for level in found:
        if not 0.0 < level < 1.0:
            raise SpecError(f"expected levels in (0, 1), found {level!r}", "intervals.levels")
    keys = [level_key(level) for level in found]
    if len(set(keys)) != len(keys):
        raise SpecError(f"levels {found} are too close to tell apart", "intervals.levels")
    return found


def check_pair(members: np.ndarray, actual: np.ndarray, where: str) -> np.ndarray:
    """``actual`` as floats, refused unless it has the members' shape without the R axis."""
    a = np.asarray(actual, dtype=float)
    if members.ndim < 2 or members.shape[1:] != a.shape:
        raise RunError(
            f"member forecasts have shape {members.shape} but the actuals {a.shape}; "
            "expected (R, *actual.shape)",
            where,
        )
    return a


def _order_statistics(scores: np.ndarray, levels: list[float]) -> tuple[np.ndarray, int]:
    """Split-conformal quantiles of ``scores`` (windows on axis 0), one per level, per column.

    The ceil((n + 1) * level)-th smallest of a column's n finite scores ("higher"
    empirical quantile with the finite-sample correction). When that rank
    exceeds n the exact interval is infinite; the largest score stands in, and
    the caller flags the level. Returns the quantiles ``(L, *columns)``, made
    non-decreasing over the levels so the intervals nest, and the fewest finite
    windows any column had.
    """
    count = np.isfinite(scores).sum(axis=0)
    if (count == 0).any():
        raise RunError("a horizon step or target has no calibration window", "conformal.fit")
    ordered = np.sort(scores, axis=0)  # NaN sorts last, past each column's count
    rows = []
    for level in levels:
        rank = np.ceil((count + 1) * level - _EPS).astype(int)
        rank = np.clip(rank, 1, count)
        rows.append(np.take_along_axis(ordered, rank[None] - 1, axis=0)[0])
    quantiles = np.maximum.accumulate(np.stack(rows), axis=0)
    return quantiles, int(count.min())


def _too_few(levels: list[float], n_cal: int) -> dict[str, int]:
    """Levels whose exact interval is infinite with ``n_cal`` windows, and the windows they need."""
    return {level_key(lv): min_windows(lv) for lv in levels if n_cal < min_windows(lv)}


def _too_few_messages(too_few: dict[str, int], n_cal: int) -> list[str]:
    """One line a user can act on for each level calibrated on too few windows."""
    return [
        f"the {key} interval needs at least {need} calibration windows, found {n_cal}: "
        "it uses the largest calibration score and may cover less than promised"
        for key, need in too_few.items()
    ]


class Conformal:
    """Split-conformal prediction intervals around the ensemble forecast.

    How it works. Hold out calibration windows that no member trained on.
    Windows used for early stopping or model selection were chosen on, so
    their errors look a little smaller than future ones and coverage comes
    out a little low; a slice of its own is safer. For each calibration
    window, measure how far the actual value fell from the ensemble mean,
    in units of the members' disagreement::

        score = |actual - mean of members| / (std of members + floor)

    and, separately for every horizon step and target, take the score that
    ``level`` of the windows stay under (the ceil((n + 1) * level)-th
    smallest of n). A new forecast's interval is then
    ``mean +/- that score * (its own std + floor)``: wide where the repeats
    disagree, narrow where they agree, and as wide overall as the errors
    seen in calibration demand. The members' spread alone only reflects
    seed-to-seed variation and usually understates the real error badly;
    calibration is what fixes the scale.

    The promise and its assumption. If the calibration windows and the
    future windows are exchangeable (drawn from the same process, in no
    particular order: no trend break, no regime change, same horizon step),
    at least ``level`` of future actuals fall inside, on average over
    windows. It is a marginal promise, not one per window. When the series
    drifts after the calibration period, coverage drifts with it; measure it
    with :func:`coverage` on the test windows.

    The floor (``floor_fraction`` times the mean calibration spread of that
    step and target) keeps a window whose members happen to agree from
    getting a near-zero interval, and keeps the scores finite. Its default,
    1.0, is deliberately not small: the repeats differ only by seed, so their
    spread tracks model variance, not the noise in the data, and may say
    little about a window's error. With the floor at the mean spread, a
    window where the members agree gets half the width of a typical one and
    one where they disagree three times as much gets twice it; a floor of
    0.1 lets widths range ten times further, which costs width when the
    spread is uninformative (in the tests' AR(1) case, a 95% interval about
    3x as wide as plain residuals' instead of 1.3x) and was no narrower
    even when the spread tracked the noise. Where the members never disagree
    (identical repeats, one repeat) and with ``normalized=False``, the scale
    is 1: plain absolute residuals, one width for every window of a step.

    Many series (a panel). Their errors are in their own units (GDP in
    billions, CPI in index points), so one floor for all of them would make
    the scores of a small series tiny and a large one's huge, and the pooled
    quantile would fit neither. Given the series of each calibration window
    (``fit(..., series=...)``), each series gets its own floor, the mean
    spread of its own windows (times ``floor_fraction``), so every score is
    unit-free (an error in units of that series' spread) and the scores of
    all series pool into one quantile per level, step and target. A forecast
    of series s is then ``mean +/- quantile * (its std + s's floor)``; the
    promise is the same, over the windows of all series together, and holds
    per series as far as the series' scaled errors look alike. A series
    whose members never disagree is scored on plain absolute residuals, as
    one series would be.

    Learned state: ``levels_``, ``quantiles_`` ``(L, *columns)``, ``floor_``
    and ``scaled_`` ``(*columns)``, ``n_cal_`` (fewest usable windows of any
    column), ``too_few_`` (level key -> windows needed, for the levels
    calibrated on too few windows), ``warnings_`` (the same, in words) and
    ``series_floor_`` / ``series_scaled_`` (series id -> its floor and
    ``scaled`` ``(*columns)``; empty unless fitted with ``series``, and then
    what ``interval`` uses instead of ``floor_`` and ``scaled_``, which stay
    those of all windows pooled).
    """

    def __init__(self, normalized: bool = True, floor_fraction: float = 1.0) -> None:
        if not floor_fraction > 0.0:
            raise SpecError(f"expected a positive floor fraction, found {floor_fraction!r}")
        self.normalized = normalized
        self.floor_fraction = float(floor_fraction)

    def fit(
        self,
        member_cal: np.ndarray,
        actual_cal: np.ndarray,
        levels: Sequence[float],
        series: Sequence[Hashable] | None = None,
    ) -> Conformal:
        """Learn one quantile per level, horizon step and target from calibration windows.

        ``member_cal`` is ``(R, n_cal, horizon, n_targets)``, ``actual_cal``
        ``(n_cal, horizon, n_targets)``, both in original units. Windows whose
        actual or ensemble forecast is missing are left out of their column.
        ``series``: the series id of each window (a panel), to floor and scale
        each window's score by its own series' spread (see the class).
        """
        found = _check_levels(levels)
        members = members_of(member_cal)
        actual = check_pair(members, actual_cal, "conformal.fit")
        spread = ensemble_spread(members)
        self.floor_, self.scaled_ = self._fit_scale(spread)
        self.series_floor_: dict[str, np.ndarray] = {}
        self.series_scaled_: dict[str, np.ndarray] = {}
        if series is None:
            scale = self._scale(spread)
        else:
            labels = _series_labels(series, actual.shape[0], "conformal.fit")
            scale = np.ones_like(spread)
            for sid in dict.fromkeys(labels.tolist()):
                rows = labels == sid
                floor, scaled = self._fit_scale(spread[rows])
                self.series_floor_[sid], self.series_scaled_[sid] = floor, scaled
                scale[rows] = np.where(scaled, spread[rows] + floor, 1.0)
        with np.errstate(invalid="ignore"):
            scores = np.abs(actual - ensemble(members)) / scale
        self.quantiles_, self.n_cal_ = _order_statistics(scores, found)
        self.levels_ = found
        self.too_few_ = _too_few(found, self.n_cal_)
        self.warnings_ = _too_few_messages(self.too_few_, self.n_cal_)
        return self

    def _fit_scale(self, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The floor and, per column, whether scores are divided by the spread at all."""
        count = np.isfinite(spread).sum(axis=0)
        total = np.where(np.isfinite(spread), spread, 0.0).sum(axis=0)
        mean = total / np.maximum(count, 1)
        scaled = (mean > 0.0) & bool(self.normalized)
        return np.where(scaled, self.floor_fraction * mean, 0.0), scaled

    def _scale(self, spread: np.ndarray) -> np.ndarray:
        """What a window's distance from the centre is measured in: spread + floor, or 1."""
        return np.where(self.scaled_, spread + self.floor_, 1.0)

    def _quantile(self, level: float) -> np.ndarray:
        """The calibrated score for a level fitted before."""
        if not hasattr(self, "quantiles_"):
            raise RunError("the calibrator is not fitted: call fit() first", "conformal")
        for i, fitted in enumerate(self.levels_):
            if math.isclose(fitted, level, rel_tol=0.0, abs_tol=1e-12):
                return np.asarray(self.quantiles_[i])
        known = ", ".join(level_key(lv) for lv in self.levels_)
        raise RunError(f"level {level!r} was not calibrated; calibrated: {known}", "conformal")

    def interval(
        self,
        member_forecasts: np.ndarray,
        level: float,
        series: Hashable | Sequence[Hashable] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``level`` interval ``(lo, hi)``, each ``(n, horizon, n_targets)``.

        Symmetric about the ensemble mean, so lo <= mean <= hi, and a higher
        level's interval contains a lower one's for every window. NaN where
        every member is missing. ``series``: the series id of every window, or
        one id for all of them; needed when the calibrator was fitted per
        series, ignored when it was not (one series, or a model saved before
        panels were calibrated per series: one floor for every series).
        """
        q = self._quantile(level)
        members = members_of(member_forecasts)
        if members.shape[2:] != self.floor_.shape:
            raise RunError(
                f"expected member forecasts (R, n, {', '.join(map(str, self.floor_.shape))}), "
                f"found {members.shape}",
                "conformal.interval",
            )
        center = ensemble(members)
        spread = ensemble_spread(members)
        half = q * self._series_scale(spread, series)
        return center - half, center + half

    def _series_scale(
        self, spread: np.ndarray, series: Hashable | Sequence[Hashable] | None
    ) -> np.ndarray:
        """The scale of each window: its own series' floor when fitted per series."""
        if not getattr(self, "series_floor_", None):
            return self._scale(spread)
        if series is None:
            known = ", ".join(list(self.series_floor_)[:5])
            raise RunError(
                "expected the series of the windows (the calibrator was fitted per series: "
                f"{known}, ...), found none",
                "conformal.interval",
            )
        n = spread.shape[0]
        if isinstance(series, str) or not isinstance(series, Sequence | np.ndarray):
            labels = np.full(n, str(series), dtype=object)
        else:
            labels = _series_labels(series, n, "conformal.interval")
        scale = np.empty_like(spread)
        for sid in dict.fromkeys(labels.tolist()):
            if sid not in self.series_floor_:
                known = ", ".join(list(self.series_floor_)[:5])
                raise RunError(
                    f"expected a series the intervals were calibrated on ({known}, ...), "
                    f"found {sid!r}",
                    "conformal.interval",
                )
            rows = labels == sid
            scaled = self.series_scaled_[sid]
            scale[rows] = np.where(scaled, spread[rows] + self.series_floor_[sid], 1.0)
        return scale

    def state(self) -> dict[str, Any]:
        """Everything ``from_state`` needs, as plain JSON values (floats round-trip exactly)."""
        if not hasattr(self, "quantiles_"):
            raise RunError("the calibrator is not fitted: call fit() first", "conformal")
        return {
            "version": STATE_VERSION,
            "method": "split-conformal",
            "normalized": bool(self.normalized),
            "floor_fraction": self.floor_fraction,
            "levels": list(self.levels_),
            "quantiles": self.quantiles_.tolist(),
            "floor": self.floor_.tolist(),
            "scaled": self.scaled_.tolist(),
            "n_cal": self.n_cal_,
            "too_few": dict(self.too_few_),
            "warnings": list(self.warnings_),
            # Per series only: a one-series state stays as it was, and a reader
            # that knows no series floors finds everything it reads.
            **(
                {
                    "series_floor": {k: v.tolist() for k, v in self.series_floor_.items()},
                    "series_scaled": {k: v.tolist() for k, v in self.series_scaled_.items()},
                }
                if getattr(self, "series_floor_", None)
                else {}
            ),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Conformal:
        """The calibrator ``state()`` described, ready for ``interval``."""
        if state.get("version") != STATE_VERSION:
            raise ModelDirError(
                f"expected conformal state version {STATE_VERSION}, found {state.get('version')!r}",
                "conformal",
            )
        try:
            self = cls(bool(state["normalized"]), float(state["floor_fraction"]))
            self.levels_ = [float(lv) for lv in state["levels"]]
            self.quantiles_ = np.asarray(state["quantiles"], dtype=float)
            self.floor_ = np.asarray(state["floor"], dtype=float)
            self.scaled_ = np.asarray(state["scaled"], dtype=bool)
            self.n_cal_ = int(state["n_cal"])
            self.too_few_ = {str(k): int(v) for k, v in state["too_few"].items()}
            self.warnings_ = [str(w) for w in state["warnings"]]
            # Absent in states saved before panels were calibrated per series.
            floors = state.get("series_floor") or {}
            scaled = state.get("series_scaled") or {}
            self.series_floor_ = {str(k): np.asarray(v, dtype=float) for k, v in floors.items()}
            self.series_scaled_ = {str(k): np.asarray(scaled[k], dtype=bool) for k in floors}
        except (KeyError, TypeError, ValueError, AttributeError, SpecError) as e:
            raise ModelDirError(f"the conformal state is damaged: {e!r}", "conformal") from e
        if self.quantiles_.shape != (len(self.levels_), *self.floor_.shape):
            raise ModelDirError(
                "the conformal state's quantiles do not fit its levels", "conformal"
            )
        shapes = {v.shape for v in (*self.series_floor_.values(), *self.series_scaled_.values())}
        if shapes - {self.floor_.shape}:
            raise ModelDirError(
                "the conformal state's series floors do not fit its quantiles", "conformal"
            )
        return self


def _series_labels(series: Sequence[Hashable], n: int, where: str) -> np.ndarray:
    """The series id of each of ``n`` windows, as text (the keys a saved state uses)."""
    labels = np.asarray([str(s) for s in series], dtype=object)
    if labels.shape != (n,):
        raise RunError(f"expected the series of each of {n} windows, found {len(labels)}", where)
    return labels
