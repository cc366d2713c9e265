"""Every name a spec may use, as data: checked when the spec is loaded, without Keras.

The architectures, optimizers, losses and activations a spec names are
resolved by Keras (or the registry) only once training starts; keeping their
names here lets ``validate`` and ``show-config`` refuse a typo at once, with a
did-you-mean, on every backend. ``tests/test_vocabulary.py`` checks that these
lists agree with Keras' own registries and with lstmctl's architecture
registry, so a name here is one that will resolve.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# The built-in architectures: lstmctl.models.registry registers one builder
# for each. An architecture registered from elsewhere (one decorated function,
# see the registry) joins them through add_architecture().
ARCHITECTURES = (
    "attention",
    "bidirectional",
    "cnn_lstm",
    "encoder_decoder",
    "generative",
    "stacked",
    "vanilla",
)

# keras.optimizers.get(name) with default settings (the wrappers that need
# other optimizers, such as a loss-scale or multi-optimizer, are left out).
OPTIMIZERS = (
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "ftrl",
    "lion",
    "nadam",
    "rmsprop",
    "sgd",
)

# keras.losses.get(name): the plain functions of (y_true, y_pred).
LOSSES = (
    "mse",
    "mae",
    "mape",
    "msle",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
    "poisson",
    "kld",
    "kl_divergence",
    "cosine_similarity",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "bce",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy",
)

# keras.activations.get(name) without arguments.
ACTIVATIONS = (
    "celu",
    "elu",
    "exponential",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
)


# The metrics runs are scored with, and for each whether a lower value is
# better (lstmctl.evaluation.metrics computes them).
LOWER_IS_BETTER = {
    "rmse": True,
    "mae": True,
    "mape": True,
    "smape": True,
    "mase": True,
    "rmsse": True,
    "accuracy": False,
    "sequence_accuracy": False,
}

# Metrics of class labels (the others measure errors of real values).
CLASSIFICATION_METRICS = ("accuracy", "sequence_accuracy")

# Metrics scaled by the in-sample error of the seasonal naive forecast on the
# training part (M4/M5): they need the training part and a season.
SCALED_METRICS = ("mase", "rmsse")

# Baselines forecasting real values, and those that need a seasonal period.
FORECAST_BASELINES = ("persistence", "seasonal_naive", "drift", "mean", "ets", "arima")
SEASONAL_BASELINES = ("seasonal_naive",)

_ADDED: list[str] = []


def add_architecture(name: str) -> None:
    """Accept ``model.arch: NAME`` for an architecture registered beyond the built-in ones."""
    if name not in ARCHITECTURES and name not in _ADDED:
        _ADDED.append(name)


def architectures() -> tuple[str, ...]:
    """Every architecture name a spec may use."""
    return ARCHITECTURES + tuple(_ADDED)


def did_you_mean(found: str, known: Iterable[str]) -> str:
    """``; did you mean X?`` for the nearest known name, or an empty string."""
    near = difflib.get_close_matches(str(found).lower(), list(known), n=1, cutoff=0.6)
    return f"; did you mean {near[0]}?" if near else ""


def check_name(found: str, known: tuple[str, ...], what: str) -> str:
    """``found`` as its canonical name (case does not matter), or a ValueError with a hint."""
    if found in known:
        return found
    lowered = str(found).lower()
    if lowered in known:
        return lowered
    hint = did_you_mean(found, known) or f"; known: {', '.join(known)}"
    raise ValueError(f"unknown {what} {found!r}{hint}")
