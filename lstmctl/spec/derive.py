"""Derived specs: every "this spec, with these changes" in one place.

A variant of ``compare:``, a tuning trial and the best trial's spec, a
diagnosis, a final fit, the fits of an update, and the defaults a
classification problem settles are each the spec with a few keys changed.
They all go through :func:`derive`, which never touches the spec it is
given: it returns a new :class:`Spec`.

``derive`` validates the result like any spec (:func:`validate_raw`), or,
with ``validate=False``, sets the values on a deep copy unchecked: for
values the schema refuses on purpose (a final fit's test part of 0) and for
settings a run resolves, which must read back exactly as they were set.

Nothing here imports another lstmctl layer (only the spec package and the
ground floor's errors); neither the package's ``__init__`` nor
:mod:`lstmctl.spec.tune_space`, which checks its choices through here. So a
derived spec's ``tune:`` section is not checked here: where one is kept (a
variant, a diagnosis), the caller checks it with ``check_space``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from lstmctl.errors import SpecError, UsageError
from lstmctl.spec.evaluate_schema import EvaluateSpec
from lstmctl.spec.messages import validate_raw
from lstmctl.spec.schema import ModelSpec, Spec, TrainSpec
from lstmctl.spec.vocabulary import CLASSIFICATION_METRICS
from lstmctl.spec.yaml_text import parse_yaml

# Diagnosis: a few repeats show whether a pattern is typical; a full evaluation's
# 30 are not needed.
DEFAULT_REPEATS = 5
# Carved from the end of the training part when the spec has no validation split.
DEFAULT_VALIDATION = 0.2


# --------------------------------------------------------------------------- the primitive


def derive(
    spec: Spec,
    values: Mapping[str, Any] | None = None,
    *,
    overrides: Sequence[str] = (),
    base: Mapping[str, Any] | None = None,
    source: str = "derived",
    validate: bool = True,
) -> Spec:
    """A new spec: ``spec`` with ``overrides`` then ``values`` applied; ``spec`` is untouched.

    ``overrides`` are ``--set`` style ``key.path=value`` texts (the value is
    YAML); a malformed one is a SpecError at ``source``. ``values`` map dotted
    keys to values. With ``validate`` (the default) they are applied to
    ``base`` (plain spec data; default ``spec.dump()``) and the result is
    validated, its errors named by ``source``. With ``validate=False`` the
    values are set on a deep copy of ``spec``, unchecked (no overrides, no
    base).
    """
    values = values or {}
    if not validate:
        if overrides or base is not None:
            raise ValueError("an unvalidated derivation takes values only")
        out = spec.model_copy(deep=True)
        for key, value in values.items():
            *path, last = key.split(".")
            node: Any = out
            for part in path:
                node.__pydantic_fields_set__.add(part)  # set, as model_copy(update=) marks it
                node = getattr(node, part)
            setattr(node, last, value)
        return out
    raw = copy.deepcopy(dict(base)) if base is not None else spec.dump()
    for item in overrides:
        try:
            apply_override(raw, item)
        except SpecError as e:
            raise SpecError(e.message, where=source) from None
    for key, value in values.items():
        set_key(raw, key, value)
    return validate_raw(raw, source=source)


def base_raw(spec: Any) -> dict[str, Any]:
    """The spec as plain data for building trials: no tune section, derived defaults unset."""
    raw = spec.dump()
    raw.pop("tune", None)
    train = raw.get("train", {})
    # train.shuffle defaults to `not model.stateful`; when the spec left it at that
    # default, a trial that changes model.stateful must get its own default again.
    if train.get("shuffle") == (not spec.model.stateful):
        train["shuffle"] = None
    return raw


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Apply one ``--set key.path=value``; the value is YAML (``3``, ``true``, ``[4, 4]``)."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise SpecError(f"expected key.path=value, found {item!r}", where="--set")
    value = parse_yaml(text, f"--set {key}")
    node: Any = raw
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            above = ".".join(parts[: i + 1])
            raise SpecError(f"{above} is a value, not a section; cannot set {key}", where="--set")
        node = child
    node[parts[-1]] = value


def set_key(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key in plain spec data, creating sections that are unset."""
    node = raw
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = copy.deepcopy(value)


# --------------------------------------------------------------------------- compare


def compare_variants(spec: Spec) -> list[tuple[str, list[str], Spec]]:
    """The spec's ``compare:`` entries as ``(label, overrides, spec)``, each validated.

    Each variant is the spec as written (its ``compare:`` removed) with its
    overrides applied, named ``name[label]``; errors are named ``compare[i]``.
    """
    base = spec.model_dump(mode="json", exclude_unset=True)
    base.pop("compare", None)
    train = base.get("train", {})
    if train.get("shuffle") == (not spec.model.stateful):
        # Resolved from stateful, not chosen: let each variant resolve it again.
        train.pop("shuffle")
    out = []
    for i, item in enumerate(spec.compare):
        overrides = [item] if isinstance(item, str) else list(item)
        where = f"compare[{i}]"
        if not overrides:
            raise SpecError("expected key.path=value overrides, found an empty list", where=where)
        if any(o.partition("=")[0].strip() == "compare" for o in overrides):
            raise SpecError("a variant cannot itself compare variants", where=where)
        label = ", ".join(overrides)
        variant = derive(
            spec,
            {"name": f"{spec.name}[{label}]"},
            overrides=overrides,
            base=base,
            source=where,
        )
        out.append((label, overrides, variant))
    return out


# --------------------------------------------------------------------------- tuning


def trial_spec(spec: Any, params: dict[str, Any], repeats: int, metric: str) -> Any:
    """The spec of one trial: the base with ``params`` set and ``repeats`` repeats."""
    metrics = list(spec.evaluate.metrics or [])
    if metric not in metrics:
        metrics.append(metric)
    values = {**params, "evaluate.repeats": repeats, "evaluate.metrics": metrics}
    return derive(spec, values, base=base_raw(spec), source="trial")


def best_spec(spec: Any, params: dict[str, Any]) -> Any:
    """The base spec with ``params`` set, as ``lstmctl run`` should run it (no tune section)."""
    return derive(spec, params, base=base_raw(spec), source="best")


# --------------------------------------------------------------------------- diagnosis


def diagnosis_repeats(spec: Spec, repeats: int | None = None) -> int:
    """How many repeats ``diagnose`` fits: as asked, else the spec's, at most 5."""
    return repeats or min(spec.evaluate.repeats, DEFAULT_REPEATS)


def diagnosis_spec(
    spec: Spec, repeats: int | None = None, validation: float | None = None
) -> tuple[Spec, int | float]:
    """The spec as diagnosed: a few repeats, a validation split, a ``-diagnose`` name."""
    if repeats is not None and repeats < 1:
        raise UsageError(f"expected at least 1 repeat, found {repeats}", where="--repeats")
    split: int | float = spec.data.split.validation
    if validation is not None:
        if validation <= 0 or (validation >= 1 and not float(validation).is_integer()):
            raise UsageError(
                f"expected a fraction in (0, 1) or a number of rows, found {validation}",
                where="--validation",
            )
        split = int(validation) if validation >= 1 else float(validation)
    elif not split:
        split = DEFAULT_VALIDATION
    values = {
        "evaluate.repeats": diagnosis_repeats(spec, repeats),
        "data.split.validation": split,
        "name": f"{spec.name}-diagnose",
    }
    return derive(spec, values, source="diagnose"), split


# --------------------------------------------------------------------------- final fit, updates


def final_spec(spec: Spec) -> Spec:
    """The spec as finalize trains it: no test part, one repeat, seed = spec.seed."""
    values: dict[str, Any] = {
        "data.split.test": 0,  # not a user-visible value: the spec requires a test part
        "evaluate.repeats": 1,
        "evaluate.update": None,
    }
    es = spec.train.early_stopping
    if es is None or es.monitor != "val_loss":
        # Validation rows would only be watched, never learned from: train on them.
        values["data.split.validation"] = 0
    return derive(spec, values, validate=False)


def leaving_out(spec: Spec, series: Mapping[str, str]) -> Spec:
    """``spec`` with the panel's ``series`` (id: why) left out before any is prepared.

    ``finalize`` fits on all the rows, where a series too short for ``run``'s test
    and validation parts may fit; it leaves out the series ``run`` skipped, so the
    saved model serves only series that were scored (and calibrated). Not a key of
    the spec file: the saved spec stays the user's.
    """
    out = spec.model_copy(deep=True)
    out.data._left_out = dict(series)
    return out


def final_text_spec(spec: Spec) -> Spec:
    """The spec as finalize trains a text model: one repeat, no update experiment."""
    return derive(spec, {"evaluate.repeats": 1, "evaluate.update": None}, validate=False)


def fine_tune_spec(spec: Spec, epochs: int, windows: int) -> Spec:
    """The spec that continues a saved model's training on ``windows`` windows."""
    values: dict[str, Any] = {
        "train.epochs": epochs,
        "evaluate.repeats": 1,
        "train.early_stopping": None,  # no validation rows to watch here
    }
    if spec.model.stateful:
        # A stateful batch must be full: a few new windows make a smaller batch.
        values["train.batch_size"] = min(spec.train.batch_size, windows)
    return derive(spec, values, validate=False)


def with_data_path(spec: Spec, path: str) -> Spec:
    """The spec reading its rows from ``path`` (an update's saved + new rows)."""
    return derive(spec, {"data.path": path}, validate=False)


def update_spec(spec: Spec, repeats: int, scheme: str, epochs: int) -> Spec:
    """The spec of the update experiment's fits: every repeat, no nested update, no
    early stopping (nothing to watch); fine-tuning runs ``epochs`` epochs."""
    values: dict[str, Any] = {
        "evaluate.repeats": repeats,
        "evaluate.update": None,
        "train.early_stopping": None,  # the updates watch no validation rows
    }
    if scheme != "refit":
        values["train.epochs"] = epochs
    return derive(spec, values, validate=False)


def update_step_spec(spec: Spec, windows: int, seed: int) -> Spec:
    """One walk-forward step's fit of :func:`update_spec`'s spec, on ``windows`` windows."""
    values: dict[str, Any] = {"seed": seed}
    if spec.model.stateful:
        values["train.batch_size"] = min(spec.train.batch_size, windows)
    return derive(spec, values, validate=False)


def repeats_part(spec: Spec, first: int, count: int) -> Spec:
    """Repeats ``first .. first + count - 1`` of ``spec`` as a spec of their own."""
    return derive(spec, {"seed": spec.seed + first, "evaluate.repeats": count}, validate=False)


# --------------------------------------------------------------------------- the task


def for_task(spec: Spec, *, task: str, horizon: int, binary: bool, has_persistence: bool) -> Spec:
    """The spec as it runs on data of ``task``; refuses settings that cannot score it.

    For a classification problem the spec's regression defaults become:
    metrics ``[rmse, mae]`` -> ``accuracy`` (and ``sequence_accuracy`` for
    several outputs per sample, ``horizon > 1``), baseline ``persistence`` ->
    ``majority``, output ``linear`` -> ``softmax`` (``sigmoid`` for two
    classes in one column, ``binary``), loss ``mse`` -> the matching
    cross-entropy. They are told apart by value, because specs come back with
    every default filled in (run directories, tuning trials, saved models);
    anything else the spec says is kept, or refused when it cannot score class
    labels. Real-valued data refuses the classification metrics, the majority
    baseline, and a persistence baseline it has none of (``has_persistence``).
    """
    ev = spec.evaluate
    if task != "classification":
        wrong = [m for m in ev.metrics if m in CLASSIFICATION_METRICS]
        if wrong:
            raise SpecError(
                f"{wrong[0]} scores class labels but this problem forecasts real values; "
                "use rmse, mae or mape",
                where="evaluate.metrics",
            )
        key = "evaluate.baseline" if ev.baselines is None else "evaluate.baselines"
        if "majority" in ev.baseline_names:
            raise SpecError(
                "the majority baseline needs class labels but this problem forecasts real "
                "values; use persistence",
                where=key,
            )
        if ev.baseline_names and not has_persistence:
            raise SpecError(
                f"this problem has no {ev.baseline_names[0]} forecast; use baseline: none",
                where=key,
            )
        return derive(spec, validate=False)
    values: dict[str, Any] = {}
    metrics = list(ev.metrics)
    if metrics == EvaluateSpec().metrics:
        metrics = ["accuracy", "sequence_accuracy"] if horizon > 1 else ["accuracy"]
        values["evaluate.metrics"] = metrics
    wrong = [m for m in metrics if m not in CLASSIFICATION_METRICS]
    if wrong:
        raise SpecError(
            f"{wrong[0]} measures errors of real values but this problem predicts class "
            f"labels; use {' or '.join(CLASSIFICATION_METRICS)}",
            where="evaluate.metrics",
        )
    if ev.baselines is None and ev.baseline == "persistence":
        values["evaluate.baseline"] = "majority"  # persistence needs real values
    elif ev.baselines is not None and set(ev.baselines) - {"majority"}:
        raise SpecError(
            f"{ev.baselines[0]} forecasts real values but this problem predicts class "
            "labels; use baselines: [majority]",
            where="evaluate.baselines",
        )
    if spec.model.output_activation == ModelSpec().output_activation:
        values["model.output_activation"] = "sigmoid" if binary else "softmax"
    if spec.train.loss == TrainSpec().loss:
        values["train.loss"] = "binary_crossentropy" if binary else "categorical_crossentropy"
    return derive(spec, values, validate=False)


# --------------------------------------------------------------------------- intervals


def for_intervals(spec: Spec) -> Spec:
    """The spec as it runs with ``evaluate.intervals``: windows to calibrate them on.

    Conformal calibration needs forecasts of windows no repeat trained on. With
    no validation part, one as long as the test part is carved from the end of
    the training part (the windows most like the test windows); a spec that
    has a validation part calibrates on it.
    """
    if not spec.evaluate.intervals or spec.data.split.validation:
        return spec
    return derive(spec, {"data.split.validation": spec.data.split.test}, validate=False)
