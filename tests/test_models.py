"""The registry and each builder: builds, has the right shapes, fits an epoch."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from lstmctl.errors import SpecError
from lstmctl.models import Shapes, architectures, build_model, get_builder, register
from lstmctl.models.registry import _REGISTRY
from lstmctl.spec import ModelSpec

SHAPES = Shapes(lookback=5, n_inputs=3, horizon=2, n_targets=1)


def tiny_xy(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 5, 3)).astype("float32"), rng.normal(size=(n, 2, 1)).astype(
        "float32"
    )


def test_unknown_architecture_lists_the_known_ones() -> None:
    with pytest.raises(SpecError) as e:
        get_builder("transformer")
    assert "vanilla" in str(e.value) and "stacked" in str(e.value)
    assert e.value.where == "model.arch"


def test_adding_an_architecture_is_one_decorated_function() -> None:
    @register("test_dense", "A dense model, for this test.")
    def build(spec: ModelSpec, shapes: Shapes) -> keras.Model:
        inp = keras.Input((shapes.lookback, shapes.n_inputs))
        x = keras.layers.Flatten()(inp)
        x = keras.layers.Dense(shapes.horizon * shapes.n_targets)(x)
        return keras.Model(inp, keras.layers.Reshape((shapes.horizon, shapes.n_targets))(x))

    try:
        assert architectures()["test_dense"] == "A dense model, for this test."
        model = build_model(ModelSpec(arch="test_dense"), SHAPES)
        assert model.output_shape == (None, 2, 1)
    finally:
        _REGISTRY.pop("test_dense")


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(arch="vanilla", units=4),
        ModelSpec(arch="vanilla", units=4, dropout=0.2, recurrent_dropout=0.1),
        ModelSpec(arch="stacked", units=[6, 4]),
        ModelSpec(arch="stacked", units=4, layers=3),
    ],
    ids=["vanilla", "vanilla-dropout", "stacked-list", "stacked-layers"],
)
def test_each_builder_fits_one_epoch(spec: ModelSpec) -> None:
    keras.utils.set_random_seed(0)
    model = build_model(spec, SHAPES)
    assert model.output_shape == (None, 2, 1)
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    expected = len(spec.units) if isinstance(spec.units, list) else (spec.layers or 1)
    assert len(lstms) == expected
    assert all(layer.return_sequences for layer in lstms[:-1])
    assert not lstms[-1].return_sequences
    model.compile(optimizer="adam", loss="mse")
    X, y = tiny_xy()
    history = model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_masking_layer_comes_first_when_the_data_has_gaps() -> None:
    shapes = Shapes(lookback=5, n_inputs=3, horizon=2, n_targets=1, mask_value=-10.0)
    model = build_model(ModelSpec(arch="vanilla"), shapes)
    assert isinstance(model.layers[1], keras.layers.Masking)
    X, _ = tiny_xy(4)
    # A masked step leaves the state as it was, so where the gaps fall among
    # the same observations does not change the forecast.
    a = X.copy()
    a[:, [0, 1], :] = -10.0
    b = X.copy()
    b[:, 1, :], b[:, 2, :] = X[:, 2, :], -10.0
    b[:, 0, :] = -10.0
    pa, pb = model.predict(a, verbose=0), model.predict(b, verbose=0)
    assert np.allclose(pa, pb, atol=1e-6)
    assert not np.allclose(pa, model.predict(X, verbose=0))


def test_native_stateful_model_has_a_fixed_batch() -> None:
    shapes = Shapes(lookback=1, n_inputs=1, horizon=1, n_targets=1, batch_size=4)
    model = build_model(ModelSpec(stateful=True, units=2), shapes)
    assert model.inputs[0].shape[0] == 4
    assert model.get_layer("lstm_1").stateful


def test_explicit_state_model_takes_and_returns_states() -> None:
    shapes = Shapes(
        lookback=1, n_inputs=1, horizon=1, n_targets=1, batch_size=4, state_mode="explicit"
    )
    model = build_model(ModelSpec(arch="stacked", units=[3, 2], stateful=True), shapes)
    assert len(model.inputs) == 1 + 4 and len(model.outputs) == 1 + 4
    native = build_model(
        ModelSpec(arch="stacked", units=[3, 2], stateful=True),
        Shapes(lookback=1, n_inputs=1, horizon=1, n_targets=1, batch_size=4),
    )
    # Same weights in the same order: a fit on one loads into the other.
    assert [w.shape for w in model.get_weights()] == [w.shape for w in native.get_weights()]
    x = np.ones((2, 1, 1), "float32")
    zeros = [np.zeros((2, n), "float32") for n in (3, 3, 2, 2)]
    y, *states = model.predict([x, *zeros], verbose=0)
    y2, *_ = model.predict([x, *states], verbose=0)
    assert not np.allclose(y, y2)  # the state carries history


def test_vanilla_refuses_several_layers() -> None:
    with pytest.raises(SpecError, match="arch: stacked"):
        build_model(ModelSpec(arch="vanilla", units=[4, 4]), SHAPES)
