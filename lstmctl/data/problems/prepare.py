"""A generated problem as :class:`Prepared` data: generate, split, label.

The generators give data already in model space (one-hot tokens, values in
[0, 1]), so nothing is scaled or transformed; the problem's ``params`` set
its sizes, ``data.split`` shares the samples out and the spec's seed makes
the data reproducible.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.data.problems.registry import Generated, ProblemParams, get_problem, parse_params
from lstmctl.data.splits import part_size
from lstmctl.errors import DataError, SpecError
from lstmctl.memory import check_fits, culprit, fits
from lstmctl.spec import Spec

# DataSpec keys that describe a CSV file; a generated problem has no use for them.
CSV_ONLY = (
    "time",
    "target",
    "features",
    "categorical",
    "missing",
    "coerce",
    "mask_value",
    "transforms",
    "scale",
    "window",
)


class ToLabels:
    """Predicted class probabilities -> class indices, shape ``(n, horizon, 1)``.

    One column holds P(class 1) of a two-class problem (threshold 0.5); more
    columns are one probability per class (argmax).
    """

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        p = np.asarray(probabilities, dtype=np.float64)
        if p.ndim != 3:
            raise ValueError(f"expected (n, horizon, classes) probabilities, found {p.shape}")
        labels = (p >= 0.5) if p.shape[2] == 1 else np.argmax(p, axis=2)[..., None]
        return labels.astype(np.float64)


def prepare_problem(spec: Spec) -> Prepared:
    """Generate ``spec.data.problem`` with ``spec.data.params`` and split it.

    The spec is not changed: what the problem resolved (its task, classes,
    horizon) is in the returned data, for the spec's task defaults to be
    settled from (:func:`lstmctl.evaluation.preflight.prepare_run`).
    """
    data = spec.data
    assert data.problem is not None
    entry = get_problem(data.problem)
    # By value, not by what was written: specs round-trip through dumps with
    # every default filled in (run directories, tuning trials, saved models).
    fields = type(data).model_fields
    stray = [
        k for k in CSV_ONLY if getattr(data, k) != fields[k].get_default(call_default_factory=True)
    ]
    if stray:
        sizes = ", ".join(entry.params.model_fields)
        raise SpecError(
            f"does not apply to a generated problem; {entry.name} takes its sizes "
            f"from data.params ({sizes})",
            where=f"data.{stray[0]}",
        )
    params = parse_params(entry, data.params)
    _check_size(entry.name, params)
    g = entry.generate(params, np.random.default_rng(spec.seed))
    parts = _split(len(g.X), data.split.test, data.split.validation, entry.name)
    return _prepared(g, parts, entry.name, params.model_dump(mode="json"))


def _check_size(name: str, params: ProblemParams) -> None:
    """Refuse sizes whose data could not be held, before the generator allocates it."""
    need = params.nbytes()
    if fits(need):
        return
    keys = [(k,) for k, v in params if isinstance(v, int | tuple) and not isinstance(v, bool)]
    (key,) = culprit(lambda p: p.nbytes(), params, keys)
    sizes = ", ".join(
        f"{k} {v}" for k, v in params if isinstance(v, int) and not isinstance(v, bool)
    )
    check_fits(need, f"data.params.{key}", f"the data of problem {name} ({sizes})")


def _split(n: int, test: int | float, validation: int | float, name: str) -> dict[str, slice]:
    n_test = part_size(n, test)
    if not 1 <= n_test < n:
        raise DataError(
            f"expected a test part smaller than the {n} samples of {name}, found {n_test}",
            where="data.split.test",
        )
    n_train = n - n_test
    n_val = part_size(n_train, validation) if validation else 0
    if n_val >= n_train:
        raise DataError(
            f"expected a validation part smaller than the {n_train} training samples, "
            f"found {n_val}",
            where="data.split.validation",
        )
    fit = n_train - n_val
    return {"train": slice(0, fit), "val": slice(fit, n_train), "test": slice(n_train, n)}


def _prepared(g: Generated, parts: dict[str, slice], name: str, params: dict) -> Prepared:
    X = np.ascontiguousarray(g.X, dtype=np.float32)
    y = np.ascontiguousarray(g.y, dtype=np.float32)
    test = parts["test"]
    inverse: Callable[[np.ndarray], np.ndarray]
    if g.task == "classification":
        inverse = ToLabels()
        actual = inverse(y[test])
        actual_val = inverse(y[parts["val"]])
    else:
        inverse = _identity
        actual = y[test].astype(np.float64)
        actual_val = y[parts["val"]].astype(np.float64)
    if g.persistence is not None:
        persistence = np.asarray(g.persistence[test], dtype=np.float64)
    else:
        persistence = np.full(actual.shape, np.nan)
    n_test = test.stop - test.start
    return Prepared(
        X_train=X[parts["train"]],
        y_train=y[parts["train"]],
        X_val=X[parts["val"]],
        y_val=y[parts["val"]],
        X_test=X[test],
        y_test=y[test],
        actual_test=actual,
        persistence_test=persistence,
        inverse=inverse,
        actual_val=actual_val,
        inverse_val=inverse,
        input_names=list(g.input_names),
        target_names=list(g.target_names),
        test_labels=[str(i) for i in range(test.start, test.start + n_test)],
        state={
            "problem": name,
            "params": params,
            "task": g.task,
            "classes": list(g.classes),
            "windows": {k: s.stop - s.start for k, s in parts.items()},
            **g.state,
        },
        task=g.task,
        classes=list(g.classes),
        per_step=g.per_step,
        input_vocab=g.input_vocab,
    )


def _identity(pred: np.ndarray) -> np.ndarray:
    return np.asarray(pred, dtype=np.float64)
