"""Backtest folds: which rows and windows each fold tests on and trains on.

``evaluate.backtest: {folds: F, step: S}`` asks for F test periods, each
``n_test`` rows long (``data.split.test``), ending S rows apart; the last is
the spec's usual test part, fold ``f`` (0 = earliest) ends ``S * (F - 1 - f)``
rows earlier::

    rows 0 .. T_0-1          the earliest fold's training rows (the pipeline is fitted here)
    rows T_f .. T_f+n_test-1  fold f's test part (T_f = n_rows - n_test - S * (F - 1 - f))

The data is prepared once, as if the test part were every row from ``T_0``
on (:func:`backtest_test_rows`), so every fold shares one fitted pipeline
and one array of windows: the training windows then the test windows, in
time order. Each fold trains on a contiguous *range* of that array
(:class:`FoldRange`): every window whose targets all come before its test
part (``expanding``), or the most recent ``n`` of them, ``n`` being the
earliest fold's count (``sliding``); it is tested on the test windows whose
targets all lie in its test part. No test target of a fold is ever a target
of a window it trains on (the property ``tests/test_backtest.py`` checks).

What the shared array lacks: with a horizon h > 1, the h - 1 windows whose
targets straddle the earliest fold's first test row are neither training nor
test windows of the shared data, so later folds train without them (a run on
such a fold alone would have them); likewise test windows left out because a
target was filled in (``data.missing``). Nothing is leaked either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstmctl.errors import DataError

__all__ = [
    "FoldPlan",
    "FoldRange",
    "backtest_test_rows",
    "fold_ranges",
    "plan_folds",
    "train_target_rows",
]

WHERE = "evaluate.backtest"


@dataclass(frozen=True)
class FoldPlan:
    """The row layout of F folds over ``n_rows`` rows."""

    n_rows: int
    n_test: int
    folds: int
    step: int

    def test_start(self, fold: int) -> int:
        """The first test row of ``fold`` (0 = earliest)."""
        return self.n_rows - self.n_test - self.step * (self.folds - 1 - fold)

    def test_rows(self, fold: int) -> range:
        start = self.test_start(fold)
        return range(start, start + self.n_test)


def plan_folds(n_rows: int, n_test: int, folds: int, step: int, need: int) -> FoldPlan:
    """The folds' rows, or a DataError naming ``evaluate.backtest`` when they do not fit.

    ``need`` is the fewest training rows a fit needs (differencing lags +
    lookback + horizon, as :meth:`RowSplit.check` counts them).
    """
    if folds < 1 or step < 1:
        raise DataError(
            f"expected folds >= 1 and step >= 1, found folds {folds}, step {step}", where=WHERE
        )
    plan = FoldPlan(int(n_rows), int(n_test), int(folds), int(step))
    first = plan.test_start(0)
    if first < need:
        span = n_test + step * (folds - 1)
        raise DataError(
            f"{folds} folds of {n_test} test rows, {step} apart, span the last {span} of "
            f"{n_rows} rows and leave the earliest fold {max(first, 0)} training rows; it "
            f"needs at least {need}: use fewer folds or a smaller step",
            where=WHERE,
        )
    return plan


def backtest_test_rows(plan: FoldPlan) -> int:
    """The test part the data is prepared with: every row from the earliest fold's test on."""
    return plan.n_rows - plan.test_start(0)


@dataclass(frozen=True)
class FoldRange:
    """One fold's windows: training ``start .. start + count - 1`` of the shared array
    (training windows then test windows), and its test windows (indices into the test
    windows)."""

    fold: int
    start: int
    count: int
    test: np.ndarray
    # Where a stateful model's replay of the history starts before it walks into the
    # test part: 0 (expanding: every window before) or ``start`` (sliding: its window).
    replay_from: int = 0

    @property
    def stop(self) -> int:
        return self.start + self.count


def fold_ranges(
    plan: FoldPlan,
    n_train: int,
    test_origins: np.ndarray,
    horizon: int,
    window: str = "expanding",
    batch: int | None = None,
) -> list[FoldRange]:
    """Each fold's training range and test windows.

    ``n_train`` training windows (all with targets before the earliest test
    part) come first in the shared array, then the test windows, whose
    origins (last input rows) are ``test_origins``. ``batch`` (a stateful
    model's) trims each range to whole batches, dropping the oldest windows as
    :func:`lstmctl.training.batches.trim_for_stateful` does.
    """
    origins = np.asarray(test_origins, dtype=np.int64)
    first, last = origins + 1, origins + horizon
    out: list[FoldRange] = []
    for f in range(plan.folds):
        start_row = plan.test_start(f)
        stop = n_train + int(np.sum(last < start_row))  # windows are in time order
        # Sliding: the earliest fold's windows (all n_train of them), shifted.
        count = stop if window == "expanding" else n_train
        if batch:
            count = count // batch * batch
        test = np.flatnonzero((first >= start_row) & (last < start_row + plan.n_test))
        if count < 1 or not len(test):
            what = "training" if count < 1 else "test"
            raise DataError(
                f"fold {f} has no complete {what} window (test rows {start_row} to "
                f"{start_row + plan.n_test - 1}); use fewer folds or a smaller step",
                where=WHERE,
            )
        start = stop - count
        replay_from = 0 if window == "expanding" else stop - n_train
        out.append(FoldRange(f, start, count, test, replay_from))
    return out


def train_target_rows(
    rng: FoldRange, n_train: int, test_origins: np.ndarray, horizon: int, train_last_origin: int
) -> np.ndarray:
    """The rows targeted by ``rng``'s training windows (for checks and tests).

    The training windows' origins are taken as contiguous and ending at
    ``train_last_origin`` (the latest they can be); the test windows' are
    ``test_origins``.
    """
    origins = np.concatenate(
        [train_last_origin - np.arange(n_train)[::-1], np.asarray(test_origins, np.int64)]
    )[rng.start : rng.stop]
    return (origins[:, None] + np.arange(1, horizon + 1)[None, :]).ravel()
