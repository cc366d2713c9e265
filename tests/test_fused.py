"""The compiled replica trainer (lstmctl.training.fused) against plain Keras."""

import os
import re
import sys

os.environ["KERAS_BACKEND"] = "jax"

from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lstmctl.data.prepared import Prepared  # noqa: E402
from lstmctl.errors import SpecError  # noqa: E402
from lstmctl.models.registry import Shapes, build_model  # noqa: E402
from lstmctl.spec import Spec  # noqa: E402
from lstmctl.training import fused  # noqa: E402
from lstmctl.training.batches import trim_for_stateful  # noqa: E402
from lstmctl.training.fused import fit_fused  # noqa: E402

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras was imported on another backend earlier in this process",
)

LOOKBACK = 3


def sine(
    n_train: int,
    n_val: int = 0,
    n_test: int = 6,
    mask_value: float | None = None,
    lookback: int = LOOKBACK,
) -> Prepared:
    """A noisy sine framed as windows of ``lookback`` steps -> the next value."""
    total = n_train + n_val + n_test
    t = np.arange(total + lookback)
    s = np.sin(0.3 * t) + 0.05 * np.random.default_rng(0).normal(size=len(t))
    X = np.stack([s[i : i + lookback] for i in range(total)])[..., None].astype(np.float32)
    y = s[lookback:][:, None, None].astype(np.float32)
    if mask_value is not None:
        X[::3, 0, 0] = mask_value  # every third window has a missing first step
    a, b = n_train, n_train + n_val
    return Prepared(
        X_train=X[:a],
        y_train=y[:a],
        X_val=X[a:b],
        y_val=y[a:b],
        X_test=X[b:],
        y_test=y[b:],
        actual_test=y[b:],
        persistence_test=X[b:, -1:, :],
        inverse=lambda p: p,
        input_names=["s"],
        target_names=["s"],
        test_labels=[str(i) for i in range(n_test)],
        mask_value=mask_value,
    )


def make_spec(
    repeats: int = 2,
    epochs: int = 3,
    seed: int = 7,
    validation: int = 0,
    model: dict[str, Any] | None = None,
    **train: Any,
) -> Spec:
    return Spec.model_validate(
        {
            "seed": seed,
            "data": {"problem": "sine", "split": {"validation": validation}},
            "model": {"units": 4, **(model or {})},
            "train": {"epochs": epochs, "batch_size": 4, **train},
            "evaluate": {"repeats": repeats},
        }
    )


def shapes_for(data: Prepared, **kw: Any) -> Shapes:
    return Shapes(
        lookback=data.lookback,
        n_inputs=1,
        horizon=1,
        n_targets=1,
        mask_value=data.mask_value,
        **kw,
    )


def max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    assert [x.shape for x in a] == [x.shape for x in b]
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------- vs Keras fit


@pytest.mark.parametrize(
    ("arch", "optimizer", "n_train", "mask_value", "dropout"),
    [
        # batch divides n; dropout draws from the replica's seed state as Keras' does
        ("vanilla", "adam", 24, None, 0.3),
        # partial last batch (4, 4, 2) and masked steps
        ("stacked", "sgd", 10, -10.0, 0.0),
    ],
)
def test_one_replica_is_a_plain_keras_fit(
    arch: str, optimizer: str, n_train: int, mask_value: float | None, dropout: float
) -> None:
    data = sine(n_train, mask_value=mask_value)
    spec = make_spec(
        model={"arch": arch, "dropout": dropout, "recurrent_dropout": dropout / 2},
        optimizer=optimizer,
        learning_rate=0.05,
        shuffle=False,
        epochs=3,
    )
    results = fit_fused(spec, data)

    # Replica 1 is seed 8: a plain Keras build and fit under that seed.
    keras.utils.set_random_seed(8)
    model = build_model(spec.model, shapes_for(data))
    if mask_value is not None:
        assert any(isinstance(layer, keras.layers.Masking) for layer in model.layers)
    opt = keras.optimizers.get(optimizer)
    opt = opt.__class__.from_config({**opt.get_config(), "learning_rate": 0.05})
    model.compile(optimizer=opt, loss="mse")
    history = model.fit(
        data.X_train, data.y_train, batch_size=4, epochs=3, shuffle=False, verbose=0
    ).history

    r = results[1]
    assert r.seed == 8 and r.error is None and r.epochs_run == 3
    assert max_diff(r.weights, model.get_weights()) < 1e-4
    np.testing.assert_allclose(r.history["loss"], history["loss"], rtol=1e-4)
    np.testing.assert_allclose(r.test_pred, model.predict(data.X_test, verbose=0), atol=1e-5)


def test_stateful_carries_states_like_a_keras_loop() -> None:
    data = sine(22, n_val=6)
    spec = make_spec(
        model={"arch": "stacked", "units": [4, 3], "stateful": True},
        optimizer="adam",
        learning_rate=0.01,
        epochs=3,
        validation=6,
    )
    results = fit_fused(spec, data)
    r = results[1]
    assert r.error is None and len(r.history["val_loss"]) == 3

    # The reference: Keras' own train step on the explicit-state model, states
    # carried by hand from batch to batch (row j continues row j), reset per epoch.
    keras.utils.set_random_seed(8)
    model = build_model(spec.model, shapes_for(data, state_mode="explicit"))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=["mse", None, None, None, None])
    X, y = trim_for_stateful(data.X_train, data.y_train, 4)
    assert len(X) == 20

    def zeros(rows: int) -> list[np.ndarray]:
        return [np.zeros((rows, u), np.float32) for u in (4, 4, 3, 3)]

    for _ in range(3):
        states = zeros(4)
        for b in range(0, len(X), 4):
            # No dropout: the training forward pass gives the states predict gives.
            out = model.predict_on_batch([X[b : b + 4], *states])
            model.train_on_batch([X[b : b + 4], *states], y[b : b + 4])
            states = list(out[1:])
    assert max_diff(r.weights, model.get_weights()) < 1e-4

    # val_loss of the last epoch: the validation windows continue the training
    # states (batches of 4, the last one padded).
    Xv = np.concatenate([data.X_val, data.X_val[:2]])
    pv = []
    for b in range(0, 8, 4):
        out = model.predict_on_batch([Xv[b : b + 4], *states])
        states = list(out[1:])
        pv.append(out[0])
    val = float(np.mean((np.concatenate(pv)[:6] - data.y_val) ** 2))
    assert r.history["val_loss"][-1] == pytest.approx(val, rel=1e-4)

    # Test predictions: replay train, val, test one window at a time.
    states, preds = zeros(1), []
    for x in np.concatenate([data.X_train, data.X_val, data.X_test]):
        out = model.predict_on_batch([x[None], *states])
        states = list(out[1:])
        preds.append(out[0][0])
    replayed = np.stack(preds)[-len(data.X_test) :]
    assert r.test_pred.shape == (6, 1, 1)
    np.testing.assert_allclose(r.test_pred, replayed, atol=1e-5)
    # ... and the history matters: from zero states the same windows predict otherwise.
    fresh = model.predict_on_batch([data.X_test, *zeros(len(data.X_test))])[0]
    assert np.abs(fresh - r.test_pred).max() > 1e-3


def test_stateful_vanilla_lstm1_batch4_fits() -> None:
    # The shampoo protocol in miniature: LSTM(1), lookback 1, batch 4, 22 windows.
    data = sine(22, n_test=5, lookback=1)
    spec = make_spec(repeats=3, epochs=30, model={"units": 1, "stateful": True}, learning_rate=0.05)
    results = fit_fused(spec, data)
    for r in results:
        assert r.error is None and r.epochs_run == 30
        assert r.history["loss"][-1] < r.history["loss"][0]
        assert r.test_pred.shape == (5, 1, 1) and np.isfinite(r.test_pred).all()
    assert max_diff(results[0].weights, results[1].weights) > 1e-3


# --------------------------------------------------------------------------- replicas


def test_replica_i_starts_as_a_keras_build_under_seed_plus_i(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = sine(8)
    spec = make_spec(repeats=3, model={"dropout": 0.3})
    expected = []
    for seed in (7, 8, 9):
        keras.utils.set_random_seed(seed)
        expected.append(build_model(spec.model, shapes_for(data)).get_weights())
    # The trainer seeds without importing TensorFlow when it is not loaded yet.
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    reps = fused._build_replicas(spec, shapes_for(data), 3)
    for i in range(3):
        stacked = {"t": reps.trainable, "n": reps.non_trainable}
        initial = [stacked[kind][k][i] for kind, k in reps.weight_slots]
        assert max_diff(initial, expected[i]) == 0.0
    # Each replica's dropout draws from its own seed state.
    seed_states = [a for a in reps.non_trainable if np.issubdtype(a.dtype, np.integer)]
    assert seed_states
    for a in seed_states:
        assert len({tuple(row.ravel()) for row in a}) == 3


def test_replicas_differ_and_a_seed_reproduces() -> None:
    data = sine(16)
    spec = make_spec(repeats=3, epochs=2, model={"dropout": 0.3}, shuffle=True)
    first = fit_fused(spec, data)
    again = fit_fused(spec, data)
    assert [r.seed for r in first] == [7, 8, 9]
    for a, b in zip(first, again, strict=True):
        assert max_diff(a.weights, b.weights) == 0.0
        np.testing.assert_array_equal(a.test_pred, b.test_pred)
        assert a.history == b.history
    for i in range(3):
        for j in range(i):
            assert max_diff(first[i].weights, first[j].weights) > 1e-3
            assert np.abs(first[i].test_pred - first[j].test_pred).max() > 1e-5


def test_loss_decreases_progress_and_validation_loss() -> None:
    data = sine(48, n_val=10)
    spec = make_spec(epochs=40, validation=10, batch_size=8, learning_rate=0.01, model={"units": 8})
    calls: list[tuple[int, int]] = []
    results = fit_fused(spec, data, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (40, 40) and len(calls) == 20
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    for r in results:
        loss = r.history["loss"]
        assert len(loss) == 40 and len(r.history["val_loss"]) == 40
        assert loss[-1] < 0.5 * loss[0]
        # val_loss is the MSE of the final weights on the validation windows.
        model = build_model(spec.model, shapes_for(data))
        model.set_weights(r.weights)
        pred = model.predict(data.X_val, verbose=0)
        assert r.history["val_loss"][-1] == pytest.approx(
            float(np.mean((pred - data.y_val) ** 2)), rel=1e-4
        )
        assert r.seconds > 0


@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_stops_and_restores_best(restore_best: bool) -> None:
    data = sine(16, n_val=4)
    # min_delta so large that nothing after the first epoch counts as better.
    stopping = {"monitor": "val_loss", "patience": 2, "min_delta": 100.0}
    spec = make_spec(
        epochs=50,
        validation=4,
        shuffle=False,
        early_stopping={**stopping, "restore_best": restore_best},
    )
    results = fit_fused(spec, data)
    reference = fit_fused(make_spec(epochs=1 if restore_best else 3, shuffle=False), data)
    for r, ref in zip(results, reference, strict=True):
        assert r.error is None and r.epochs_run == 3
        assert len(r.history["loss"]) == 3 and len(r.history["val_loss"]) == 3
        assert max_diff(r.weights, ref.weights) < 1e-6
        np.testing.assert_allclose(r.test_pred, ref.test_pred, atol=1e-6)


# --------------------------------------------------------------------------- failures


def test_a_diverging_replica_is_reported_and_the_others_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = sine(12)
    spec = make_spec(repeats=3, epochs=4)
    clean = fit_fused(spec, data)

    build = fused._build_replicas

    def blow_up_replica_1(*args: Any) -> Any:
        reps = build(*args)
        for a in reps.trainable:
            a[1] *= 1e20  # its outputs overflow float32: the loss is inf at once
        return reps

    monkeypatch.setattr(fused, "_build_replicas", blow_up_replica_1)
    results = fit_fused(spec, data)
    bad = results[1]
    assert bad.error == "loss became inf at epoch 1"  # said as it was: inf, not NaN
    assert bad.test_pred.shape == (0, 1, 1) and bad.epochs_run == 1
    for i in (0, 2):
        r = results[i]
        assert r.error is None and r.epochs_run == 4
        assert max_diff(r.weights, clean[i].weights) < 1e-6
        np.testing.assert_allclose(r.test_pred, clean[i].test_pred, atol=1e-6)


def test_all_replicas_diverging_ends_without_an_exception() -> None:
    data = sine(12)
    spec = make_spec(repeats=2, epochs=50, optimizer="sgd", learning_rate=1e30)
    calls: list[tuple[int, int]] = []
    results = fit_fused(spec, data, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (50, 50)
    for r in results:
        assert r.error is not None and re.match(r"loss became (NaN|-?inf) at epoch \d+$", r.error)
        assert r.test_pred.shape[0] == 0
        assert r.epochs_run < 50 and len(r.history["loss"]) == r.epochs_run
        assert not np.isfinite(r.history["loss"][-1])


def test_stateful_needs_a_full_batch() -> None:
    # A spec error (exit 2), which validate finds too (tests/bad_inputs/cases-validate.yaml).
    data = sine(3)
    spec = make_spec(model={"stateful": True})
    with pytest.raises(SpecError, match="at least batch_size=4"):
        fit_fused(spec, data)
