"""Every choice of a search space checked as ``run`` checks a spec, before the first trial.

:func:`lstmctl.spec.tune_space.check_space` validates each choice as a value of
its key; this goes as far as ``validate`` goes: the trial spec a choice
makes gets its data prepared and the training checks (the architecture's
shapes, a stateful batch against the training windows), so a choice no trial
could run is refused before a study exists, not found failing trial after
trial. A range is checked at both ends. With ``evaluate.backtest`` the trial
spec is checked as a backtest (``run``'s checks, then its folds cut from the
data, the F x R fits in one program and in memory).

Keys interact (``cnn_lstm`` needs ``model.subsequences``, ``vanilla`` one
layer): a choice that fails beside the spec's own values of the other
searched keys is refused only when no combination with their choices runs
either. A bad combination of good choices is one failed trial, as before.
"""

from __future__ import annotations

import itertools
from typing import Any

from lstmctl.errors import DataError, SpecError
from lstmctl.spec import Spec
from lstmctl.spec.derive import trial_spec
from lstmctl.spec.tune_space import Choices, Dimension, parse_space
from lstmctl.tuning.trial import TrialContext

# Combinations with the other keys' choices tried before a failing choice is refused.
MAX_COMBINATIONS = 256


def check_choices(spec: Spec, ctx: TrialContext | None = None) -> None:
    """Raise a SpecError naming the first choice (or range end) no trial could run with.

    ``ctx`` (the study's) shares its prepared data with the trials.
    """
    if spec.tune is None:
        return
    ctx = ctx or TrialContext(spec, parse_space(spec.tune.space))
    for dim in ctx.dims:
        others = [d for d in ctx.dims if d is not dim]
        for value in candidates(dim):
            error = _refusal(ctx, {dim.key: value})
            if error is None or _runs_beside(ctx, dim.key, value, others):
                continue
            inner = (error.where or "").removeprefix("trial: ")
            detail = f"{inner}: {error.message}" if inner and inner != dim.key else error.message
            raise SpecError(
                f"{value!r} is not a valid choice ({detail})", where=f"tune.space.{dim.key}"
            )


def candidates(dim: Dimension) -> list[Any]:
    """The values a check tries: every choice, or both ends of a range."""
    if isinstance(dim, Choices):
        return list(dim.values)
    ends = [dim.low, dim.high]
    return [int(v) for v in ends] if dim.integer else ends


def _runs_beside(ctx: TrialContext, key: str, value: Any, others: list[Dimension]) -> bool:
    combos = itertools.product(*(candidates(d) for d in others))
    for combo in itertools.islice(combos, MAX_COMBINATIONS):
        params = {key: value, **{d.key: v for d, v in zip(others, combo, strict=True)}}
        if _refusal(ctx, params) is None:
            return True
    return False


def _refusal(ctx: TrialContext, params: dict[str, Any]) -> SpecError | DataError | None:
    """The error ``run`` would give the trial spec of ``params``, or None."""
    from lstmctl.training.checks import check_training
    from lstmctl.training.footprint import check_footprint

    try:
        trial = trial_spec(ctx.spec, params, ctx.repeats, ctx.tune.objective.metric)
        if trial.evaluate.backtest is not None:
            ctx.backtest(trial)  # the folds fit its data; F x R fits fit one program
            return None
        spec, data, _, _ = ctx.prepared(trial)
        check_training(spec, data)
        check_footprint(spec, data)
    except (SpecError, DataError) as e:
        return e
    return None
