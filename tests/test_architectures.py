"""Every architecture in the registry builds, trains through both trainers and predicts.

Each is fitted for one epoch on a tiny generated problem by the compiled
replica trainer (``backend: auto``) and by Keras' own ``fit``; with the same
seed and no shuffling both must land on the same weights. Then the options
of each architecture are checked for what they promise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from conftest import ROOT

from lstmctl.errors import SpecError
from lstmctl.evaluation.preflight import prepare_run
from lstmctl.modeldir.keras_archive import check_keras_archive
from lstmctl.models import Shapes, architectures, build_model
from lstmctl.models.layers import ReverseTime, custom_objects
from lstmctl.serving.generation import fitted_model
from lstmctl.spec import ModelSpec, Spec, validate_spec
from lstmctl.training.fused import fit_fused
from lstmctl.training.keras_fit import fit_one

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras was imported on another backend earlier in this process",
)

TEXT = str(ROOT / "datasets" / "republic-book1.txt")

# Every registered architecture on the problem that shows it, at toy size.
TINY: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "vanilla": ("echo", {"samples": 40, "length": 4, "values": 5}, {"units": 6}),
    "stacked": ("damped_sine", {"samples": 40, "length": 8, "output": 3}, {"units": [5, 4]}),
    "cnn_lstm": ("moving_line", {"samples": 40, "size": 6}, {"units": 4, "filters": 2}),
    "encoder_decoder": (
        "addition",
        {"samples": 40, "terms": 2, "largest": 9},
        {"units": 6, "decoder_units": 5},
    ),
    "bidirectional": ("cumsum", {"samples": 40, "steps": 5}, {"units": 4, "merge_mode": "sum"}),
    "attention": (
        "echo_first",
        {"samples": 40, "length": 6, "values": 5, "echo": 2},
        {"units": 6, "attention": "additive"},
    ),
    "generative": (
        "text",
        {"path": TEXT, "max_chars": 300, "window": 5},
        {"units": 6, "embedding": 4},
    ),
}


def tiny_spec(arch: str, **model: Any) -> Spec:
    problem, params, options = TINY[arch]
    return validate_spec(
        {
            "seed": 5,
            "data": {"problem": problem, "params": params, "split": {"test": 8}},
            "model": {"arch": arch, **options, **model},
            "train": {"epochs": 1, "batch_size": 8, "shuffle": False},
            "evaluate": {"repeats": 2},
        }
    )


def test_every_registered_architecture_is_covered() -> None:
    assert set(architectures()) == set(TINY)


@pytest.mark.parametrize("arch", sorted(TINY))
def test_architecture_trains_with_both_trainers_and_reloads(arch: str, tmp_path: Path) -> None:
    spec, data = prepare_run(tiny_spec(arch))
    fused = fit_fused(spec, data)
    assert [r.seed for r in fused] == [5, 6]
    for r in fused:
        assert r.error is None and len(r.history["loss"]) == 1
        assert r.test_pred.shape == data.y_test.shape
        assert np.isfinite(r.test_pred).all()
    # Keras' fit under seed 5 is replica 0: same start, same batches, same steps.
    plain = fit_one(spec, data, 0)
    assert plain.test_pred.shape == data.y_test.shape
    for a, b in zip(fused[0].weights, plain.weights, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-4)
    assert fused[0].history["loss"][0] == pytest.approx(plain.history["loss"][0], rel=1e-3)
    # The fitted model saves and loads back in Keras' safe mode.
    fitted_model(spec, data, fused[1]).save(tmp_path / "m.keras")
    # ... and passes the allow-list that guards model directories from others.
    check_keras_archive((tmp_path / "m.keras").read_bytes(), "m.keras")
    loaded = keras.saving.load_model(
        tmp_path / "m.keras", safe_mode=True, custom_objects=custom_objects()
    )
    np.testing.assert_allclose(
        loaded.predict(data.X_test, verbose=0), fused[1].test_pred, atol=1e-5
    )


# --------------------------------------------------------------------------- options

SEQ = Shapes(lookback=6, n_inputs=2, horizon=6, n_targets=1, per_step=True)


def per_step_outputs(direction: str, x: np.ndarray) -> np.ndarray:
    keras.utils.set_random_seed(0)
    model = build_model(ModelSpec(arch="bidirectional", units=3, direction=direction), SEQ)
    return np.asarray(model.predict(x, verbose=0))[:, :, 0]


def test_directions_read_the_window_the_way_they_say() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    first, last = x.copy(), x.copy()
    first[:, 0] += 1.0  # change the first step only
    last[:, -1] += 1.0  # change the last step only
    fwd = [per_step_outputs("forward", v) for v in (x, first, last)]
    bwd = [per_step_outputs("backward", v) for v in (x, first, last)]
    both = [per_step_outputs("both", v) for v in (x, first, last)]
    # Forward: step t sees steps 0..t, so a change at the end touches only the end.
    np.testing.assert_allclose(fwd[2][:, :-1], fwd[0][:, :-1], atol=1e-6)
    assert not np.allclose(fwd[1][:, -1], fwd[0][:, -1])
    # Backward, outputs in time order: step t sees steps t..end.
    np.testing.assert_allclose(bwd[1][:, 1:], bwd[0][:, 1:], atol=1e-6)
    assert not np.allclose(bwd[2][:, 0], bwd[0][:, 0])
    # Both ways: every step sees everything.
    assert not np.allclose(both[1][:, -1], both[0][:, -1])
    assert not np.allclose(both[2][:, 0], both[0][:, 0])


def test_bidirectional_layers_and_merge_modes() -> None:
    concat = build_model(ModelSpec(arch="bidirectional", units=3), SEQ)
    summed = build_model(ModelSpec(arch="bidirectional", units=3, merge_mode="sum"), SEQ)
    assert concat.get_layer("bilstm_1").output.shape[-1] == 6
    assert summed.get_layer("bilstm_1").output.shape[-1] == 3
    backward = build_model(ModelSpec(arch="bidirectional", units=3, direction="backward"), SEQ)
    assert sum(isinstance(layer, ReverseTime) for layer in backward.layers) == 2
    forward = build_model(ModelSpec(arch="bidirectional", units=[4, 3], direction="forward"), SEQ)
    assert not any(isinstance(layer, keras.layers.Bidirectional) for layer in forward.layers)
    last = Shapes(lookback=6, n_inputs=2, horizon=2, n_targets=1)
    assert build_model(ModelSpec(arch="bidirectional", units=3), last).output_shape == (None, 2, 1)


def test_stateful_only_where_it_makes_sense() -> None:
    shapes = Shapes(lookback=4, n_inputs=1, horizon=1, n_targets=1, batch_size=2)
    with pytest.raises(SpecError, match="direction: forward") as e:
        build_model(ModelSpec(arch="bidirectional", stateful=True), shapes)
    assert e.value.where == "model.stateful"
    with pytest.raises(SpecError, match="whole window"):
        build_model(ModelSpec(arch="attention", stateful=True), shapes)
    model = build_model(ModelSpec(arch="bidirectional", direction="forward", stateful=True), shapes)
    assert model.get_layer("lstm_1").stateful
    explicit = Shapes(
        lookback=4, n_inputs=1, horizon=2, n_targets=1, batch_size=2, state_mode="explicit"
    )
    ed = build_model(ModelSpec(arch="encoder_decoder", units=3, stateful=True), explicit)
    assert len(ed.inputs) == 3 and len(ed.outputs) == 3  # window + the encoder's (h, c)


def test_attention_kinds_and_decoder_sizes() -> None:
    shapes = Shapes(lookback=7, n_inputs=5, horizon=2, n_targets=5)
    dot = build_model(ModelSpec(arch="attention", units=6, output_activation="softmax"), shapes)
    add = build_model(ModelSpec(arch="attention", units=6, attention="additive"), shapes)
    assert isinstance(dot.get_layer("attend"), keras.layers.Attention)
    assert isinstance(add.get_layer("attend"), keras.layers.AdditiveAttention)
    probs = dot.predict(np.ones((2, 7, 5), "float32"), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=2), 1.0, rtol=1e-5)  # a softmax per step
    # A decoder of another size queries through a projection to the encoder's size.
    odd = build_model(ModelSpec(arch="attention", units=6, decoder_units=[4, 3]), shapes)
    assert odd.get_layer("query").output.shape[-1] == 6
    ed = build_model(ModelSpec(arch="encoder_decoder", units=[6, 5], decoder_units=4), shapes)
    lstms = [layer for layer in ed.layers if isinstance(layer, keras.layers.LSTM)]
    assert [layer.units for layer in lstms] == [6, 5, 4]
    assert ed.get_layer("repeat").output.shape[1] == 2


def test_encoder_decoder_skips_masked_steps() -> None:
    shapes = Shapes(lookback=5, n_inputs=2, horizon=3, n_targets=1, mask_value=-10.0)
    model = build_model(ModelSpec(arch="encoder_decoder", units=4), shapes)
    x = np.random.default_rng(1).normal(size=(2, 5, 2)).astype("float32")
    gap = x.copy()
    gap[:, 0] = -10.0
    moved = gap.copy()  # the same observations in the same order, the gap one step later
    moved[:, 0], moved[:, 1] = x[:, 1], -10.0
    out = model.predict(gap, verbose=0)
    assert np.allclose(out, model.predict(moved, verbose=0))
    assert not np.allclose(out, model.predict(x, verbose=0))
    assert isinstance(model.layers[1], keras.layers.Masking)


def test_cnn_lstm_reads_frames_with_conv2d_and_series_with_conv1d() -> None:
    frames = Shapes(lookback=4, n_inputs=6, horizon=1, n_targets=1, step_shape=(6, 6, 1))
    model = build_model(ModelSpec(arch="cnn_lstm", filters=3), frames)
    assert isinstance(model.get_layer("conv").layer, keras.layers.Conv2D)
    assert model.output_shape == (None, 1, 1)
    series = Shapes(lookback=8, n_inputs=2, horizon=3, n_targets=2)
    model = build_model(ModelSpec(arch="cnn_lstm", subsequences=2, kernel_size=2), series)
    assert isinstance(model.get_layer("conv").layer, keras.layers.Conv1D)
    assert model.get_layer("subsequences").output.shape[1:] == (2, 4, 2)
    assert model.predict(np.zeros((1, 8, 2), "float32"), verbose=0).shape == (1, 3, 2)
    with pytest.raises(SpecError, match="model.subsequences: N") as e:
        build_model(ModelSpec(arch="cnn_lstm"), series)
    assert e.value.where == "model.subsequences"
    with pytest.raises(SpecError, match="divide the window evenly"):
        build_model(ModelSpec(arch="cnn_lstm", subsequences=3), series)
    masked = Shapes(lookback=8, n_inputs=2, horizon=1, n_targets=1, mask_value=-1.0)
    with pytest.raises(SpecError, match="cannot skip missing steps"):
        build_model(ModelSpec(arch="cnn_lstm", subsequences=2), masked)


def test_generative_embeds_one_hot_tokens_or_token_ids() -> None:
    one_hot = Shapes(lookback=5, n_inputs=30, horizon=1, n_targets=30)
    plain = build_model(ModelSpec(arch="generative", units=4), one_hot)
    assert not any(layer.name == "embedding" for layer in plain.layers)
    dense = build_model(ModelSpec(arch="generative", units=4, embedding=8), one_hot)
    assert isinstance(dense.get_layer("embedding"), keras.layers.Dense)
    ids = Shapes(lookback=5, n_inputs=1, horizon=1, n_targets=30, input_vocab=30)
    model = build_model(
        ModelSpec(arch="generative", units=4, embedding=8, output_activation="softmax"), ids
    )
    assert isinstance(model.get_layer("embedding"), keras.layers.Embedding)
    p = model.predict(np.array([[[3], [0], [29], [7], [7]]], "float32"), verbose=0)
    assert p.shape == (1, 1, 30) and p.sum() == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(SpecError, match="need an embedding") as e:
        build_model(ModelSpec(arch="generative"), ids)
    assert e.value.where == "model.embedding"


def test_softmax_head_normalises_each_step_of_a_multi_step_forecast() -> None:
    shapes = Shapes(lookback=3, n_inputs=4, horizon=2, n_targets=4)
    model = build_model(ModelSpec(arch="stacked", units=3, output_activation="softmax"), shapes)
    p = model.predict(np.ones((2, 3, 4), "float32"), verbose=0)
    np.testing.assert_allclose(p.sum(axis=2), 1.0, rtol=1e-5)


def test_seq2seq_and_cnn_lstm_forecast_a_real_series(tiny_spec: Path, tmp_path: Path) -> None:
    # A CSV series, not a generated problem: multi-step forecasts in the data's
    # units, a stateful encoder carried by the compiled trainer, and a CNN LSTM
    # reading the window as two subsequences.
    from lstmctl.spec import load_spec
    from lstmctl.workflows.compare import run_compare

    spec = load_spec(
        tiny_spec,
        [
            "data.window={lookback: 4, horizon: 3}",
            "compare=[[model.arch=encoder_decoder, model.stateful=true, train.batch_size=4],"
            " [model.arch=cnn_lstm, model.subsequences=2, model.kernel_size=2]]",
        ],
    )
    out = run_compare(spec, runs_dir=tmp_path / "runs").to_json()
    assert [v["arch"] for v in out["variants"]] == ["encoder_decoder", "cnn_lstm"]
    for v in out["variants"]:
        assert v["error"] is None and v["repeats"] == 2
        # Scored in sales units, beside persistence on the same 3-step targets.
        assert 0 < v["metrics"]["rmse"]["mean"] < 10 * v["baselines"]["persistence"]["rmse"]


@pytest.mark.parametrize("arch", sorted(TINY))
def test_init_scaffolds_a_spec_that_builds(
    arch: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lstmctl.spec import load_spec
    from lstmctl.training.keras_fit import shapes_for
    from lstmctl.workflows.starter import starter_spec

    monkeypatch.chdir(ROOT)
    path = tmp_path / "starter.yaml"
    path.write_text(starter_spec(arch))
    spec, data = prepare_run(load_spec(path))
    model = build_model(spec.model, shapes_for(spec, data))
    assert model.output_shape == (None, *data.y_train.shape[1:])
