"""Sizes and seeds that cannot work are refused up front; memory errors are one line (issue 16).

The bad-inputs corpus (``bad_inputs/cases-sizes.yaml``) holds the sizes no
machine can hold; here the limit is lowered to test what depends on it, the
weight counts are checked against Keras' own, and the trainers take the
largest sizes and seeds the spec lets through.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from lstmctl import memory
from lstmctl.cli import app
from lstmctl.data.prepared import Prepared
from lstmctl.data.problems.registry import get_problem, parse_params
from lstmctl.errors import SpecError, UsageError
from lstmctl.models.registry import Shapes
from lstmctl.models.size import parameter_count
from lstmctl.spec import MAX_SEED, ModelSpec, Spec, validate_spec
from lstmctl.training.footprint import check_footprint, fit_bytes

runner = CliRunner()
CASES = Path(__file__).resolve().parent / "bad_inputs" / "cases"


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Pretend the machine has ``limit(n)`` bytes of memory."""

    def set_limit(n: int) -> None:
        monkeypatch.setattr(memory, "memory_limit", lambda: n)

    return set_limit


# --------------------------------------------------------------------------- the limit


def test_the_limit_is_the_machines_memory() -> None:
    memory.memory_limit.cache_clear()
    n = memory.memory_limit()
    assert n is not None and n > 2**28  # no machine that runs the tests has less
    assert n <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def test_human_sizes() -> None:
    assert memory.human(512) == "512 bytes"
    assert memory.human(1.5 * 2**30) == "1.5 GiB"
    assert memory.human(9.8 * 2**40) == "9.8 TiB"
    assert memory.human(3000 * 2**50) == "3,000 PiB"


def test_check_fits_names_the_key_the_estimate_and_the_limit(limit: Any) -> None:
    limit(2**30)
    memory.check_fits(2**30, "model.units", "a model")  # exactly fits
    with pytest.raises(SpecError) as e:
        memory.check_fits(3 * 2**30, "model.units", "a model")
    assert e.value.where == "model.units"
    assert str(e.value) == (
        "model.units: expected sizes that fit in this machine's 1.0 GiB of memory, found "
        "about 3.0 GiB needed for a model; make model.units smaller"
    )


# ------------------------------------------------------------------- generated problems


@pytest.mark.parametrize(
    ("name", "base", "big", "key"),
    [
        ("echo", {"samples": 100}, {"samples": 10**6}, "samples"),
        ("echo", {"samples": 100}, {"samples": 100, "values": 5_000}, "values"),
        ("echo_first", {"samples": 100}, {"samples": 100, "length": 5_000}, "length"),
        ("damped_sine", {"samples": 100}, {"samples": 100, "output": 100_000}, "output"),
        ("moving_line", {"samples": 10, "size": 10}, {"samples": 10, "size": 100}, "size"),
        ("addition", {"samples": 100}, {"samples": 100, "terms": 100_000}, "terms"),
        ("cumsum", {"samples": 100}, {"samples": 10**6}, "samples"),
    ],
)
def test_each_problem_estimates_its_data_and_names_the_size_to_shrink(
    name: str, base: dict[str, Any], big: dict[str, Any], key: str, limit: Any
) -> None:
    from lstmctl.data.prepare import prepare

    entry = get_problem(name)
    small = parse_params(entry, base).nbytes()
    assert 0 < 4 * small < parse_params(entry, big).nbytes()
    limit(small * 2)
    prepare(validate_spec({"data": {"problem": name, "params": base}}))  # fits
    with pytest.raises(SpecError) as e:
        prepare(validate_spec({"data": {"problem": name, "params": big}}))
    assert e.value.where == f"data.params.{key}"
    assert f"needed for the data of problem {name}" in str(e.value)


def test_a_problems_estimate_is_not_more_than_its_data() -> None:
    # Lower bounds: a refused size could never have been generated.
    for name, params in [
        ("echo", {"samples": 50}),
        ("echo_first", {"samples": 50}),
        ("damped_sine", {"samples": 50}),
        ("moving_line", {"samples": 20, "size": 10}),
        ("addition", {"samples": 50}),
        ("cumsum", {"samples": 50}),
    ]:
        entry = get_problem(name)
        p = parse_params(entry, params)
        g = entry.generate(p, np.random.default_rng(0))
        assert g.X.nbytes + g.y.nbytes <= p.nbytes() <= 20 * (g.X.nbytes + g.y.nbytes), name


def test_text_one_hot_windows_that_cannot_fit_are_refused(tmp_path: Path, limit: Any) -> None:
    text = tmp_path / "t.txt"
    text.write_text("the quick brown fox jumps over the lazy dog " * 20)
    spec = validate_spec({"data": {"problem": "text", "params": {"path": str(text)}}})
    limit(2**16)
    from lstmctl.data.prepare import prepare

    with pytest.raises(SpecError, match="windows of 10 chars, one-hot over 27 tokens") as e:
        prepare(spec)
    assert e.value.where == "data.params.window"
    assert "data.params.encoding: index (with model.embedding)" in str(e.value)


def test_addition_sums_stay_64_bit_integers() -> None:
    entry = get_problem("addition")
    with pytest.raises(SpecError, match="terms x largest must be below 2\\*\\*63") as e:
        parse_params(entry, {"terms": 2, "largest": 2**62})
    assert e.value.where == "data.params"
    # The largest that passes draws and adds without wrapping around.
    p = parse_params(entry, {"samples": 4, "terms": 1, "largest": 2**63 - 1})
    g = entry.generate(p, np.random.default_rng(0))
    assert g.X.shape == (4, 19, 12)


# ----------------------------------------------------------------------- CSV windows


def test_csv_windows_that_cannot_fit_are_refused(limit: Any) -> None:
    from lstmctl.spec import load_spec

    spec = load_spec(CASES / "valid.yaml")
    limit(100)
    from lstmctl.data.prepare import prepare

    with pytest.raises(SpecError, match="windows of 3 steps x 2 inputs") as e:
        prepare(spec)
    assert e.value.where == "data.window.lookback"


# ------------------------------------------------------------------------------ models

SHAPES = Shapes(lookback=6, n_inputs=3, horizon=2, n_targets=2)
COUNTED = [
    (ModelSpec(arch="vanilla", units=7), SHAPES),
    (ModelSpec(arch="stacked", units=[5, 6, 7]), SHAPES),
    (ModelSpec(arch="stacked", units=5, layers=3), SHAPES),
    (
        ModelSpec(arch="bidirectional", units=[5, 4]),  # concat: the next layer reads 10
        Shapes(5, 3, 5, 1, per_step=True),
    ),
    (ModelSpec(arch="cnn_lstm", units=5, filters=8), Shapes(4, 10, 1, 1, step_shape=(10, 10, 1))),
    (ModelSpec(arch="encoder_decoder", units=6, decoder_units=[4, 3]), Shapes(6, 12, 3, 12)),
    (ModelSpec(arch="attention", units=6, decoder_units=4), Shapes(6, 12, 3, 12)),
    (ModelSpec(arch="generative", units=6, embedding=5), Shapes(10, 1, 1, 30, input_vocab=30)),
]


@pytest.mark.parametrize(("spec", "shapes"), COUNTED, ids=[s.arch for s, _ in COUNTED])
def test_weight_counts_match_keras_without_building(spec: ModelSpec, shapes: Shapes) -> None:
    from lstmctl.models.registry import build_model

    assert parameter_count(spec, shapes) == build_model(spec, shapes).count_params()


def test_absurd_layer_counts_cost_nothing_to_count() -> None:
    spec = ModelSpec(arch="stacked", units=4, layers=10**12)
    assert parameter_count(spec, SHAPES) > 10**14  # no list of 10**12 layers was made


def tiny(**over: Any) -> tuple[Spec, Prepared]:
    from lstmctl.data.prepare import prepare
    from lstmctl.spec import load_spec

    sets = [f"{k.replace('__', '.')}={v}" for k, v in over.items()]
    spec = load_spec(CASES / "valid.yaml", sets)
    return spec, prepare(spec)


def test_the_footprint_counts_replicas_copies_and_curves() -> None:
    spec, data = tiny(model__units=100)
    shapes = Shapes(3, 2, 1, 1)
    weights = parameter_count(spec.model, shapes)
    assert fit_bytes(spec, shapes) == 2 * 4 * 4 * weights + 2 * 2 * 88  # adam: 4 copies
    one_at_a_time, _ = tiny(model__units=100, backend="tensorflow")
    assert fit_bytes(one_at_a_time, shapes) == 4 * 4 * weights + 2 * 2 * 88
    sgd, _ = tiny(model__units=100, train__optimizer="sgd")
    assert fit_bytes(sgd, shapes) == 2 * 2 * 4 * weights + 2 * 2 * 88


@pytest.mark.parametrize(
    ("over", "key"),
    [
        ({"model__units": 2000}, "model.units"),
        ({"evaluate__repeats": 10**6}, "evaluate.repeats"),
        ({"train__epochs": 10**6}, "train.epochs"),
        (
            {
                "backend": "tensorflow",
                "train__jobs": 8,
                "evaluate__repeats": 8,
                "model__units": 400,
            },
            "model.units",
        ),
    ],
)
def test_a_fit_that_cannot_fit_names_the_key_that_costs_most(
    over: dict[str, Any], key: str, limit: Any
) -> None:
    spec, data = tiny(**over)
    limit(30 * 2**20)
    check_footprint(*tiny())  # the corpus' base spec fits in 30 MiB
    with pytest.raises(SpecError) as e:
        check_footprint(spec, data)
    assert e.value.where == key


def test_run_refuses_before_training_and_leaves_no_run_dir(tmp_path: Path) -> None:
    r = runner.invoke(
        app,
        ["run", str(CASES / "valid.yaml"), "--set", "model.units=10000000", "--out", str(tmp_path)],
    )
    assert r.exit_code == 2
    assert r.stderr.startswith("lstmctl: error: model.units: expected sizes that fit")
    assert len(r.stderr.splitlines()) == 1 and r.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_the_footprint_knows_the_fused_block() -> None:
    from lstmctl.training import footprint, fused

    assert footprint.FUSED_BLOCK == fused.BLOCK


def test_a_batch_larger_than_the_data_trains_as_one_batch() -> None:
    from lstmctl.training.backend import use_backend

    use_backend("auto")  # Keras on JAX, unless another test imported it on another backend
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("keras was imported on another backend earlier in this process")
    from lstmctl.training.fused import fit_fused

    spec, data = tiny(train__epochs=2, evaluate__repeats=1)
    whole = len(data.X_train)
    a = fit_fused(
        spec.model_copy(update={"train": spec.train.model_copy(update={"batch_size": 2**31 - 1})}),
        data,
    )
    b = fit_fused(
        spec.model_copy(update={"train": spec.train.model_copy(update={"batch_size": whole})}), data
    )
    assert a[0].error is None
    np.testing.assert_allclose(a[0].history["loss"], b[0].history["loss"], rtol=1e-6)


# ------------------------------------------------------------------------------ seeds


def test_the_highest_seed_reaches_every_repeat_within_32_bits() -> None:
    spec = validate_spec(
        {"seed": MAX_SEED - 29, "data": {"problem": "echo"}, "evaluate": {"repeats": 30}}
    )
    np.random.seed(spec.seed + spec.evaluate.repeats - 1)  # what Keras' set_random_seed does
    with pytest.raises(SpecError, match="from 0 to 4294967266"):
        validate_spec(
            {"seed": MAX_SEED - 28, "data": {"problem": "echo"}, "evaluate": {"repeats": 30}}
        )


def test_diagnose_checks_the_seeds_of_its_own_repeats() -> None:
    from lstmctl.spec.derive import diagnosis_spec

    spec = validate_spec(
        {"seed": MAX_SEED - 4, "data": {"problem": "echo"}, "evaluate": {"repeats": 5}}
    )
    diagnosis_spec(spec, repeats=5)
    with pytest.raises(SpecError, match="diagnose: seed: expected an integer from 0 to"):
        diagnosis_spec(spec, repeats=6)


def test_tuning_samplers_take_any_seed_the_spec_allows() -> None:
    from lstmctl.tuning.storage import sampler_for

    sampler_for("random", MAX_SEED)
    sampler_for("tpe", 0)


def test_generate_seed_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    from lstmctl.serving.generation import check_seed

    check_seed(None)
    check_seed(MAX_SEED)
    with pytest.raises(UsageError, match="expected a seed from 0 to 4294967295"):
        check_seed(MAX_SEED + 1)
    for seed in ("-1", "4294967296"):
        # Refused before the model directory is even read.
        r = runner.invoke(app, ["generate", "--model", str(tmp_path / "none"), "--seed", seed])
        assert r.exit_code == 2, r.output
        assert r.stdout == ""
        assert r.stderr == (
            f"lstmctl: error: --seed: expected a seed from 0 to 4294967295 (2**32 - 1), "
            f"found {seed}\n"
        )


# --------------------------------------------------------------- memory errors, elsewhere


class XlaRuntimeError(RuntimeError):
    """Named as JAX's, as the out-of-memory check recognises it."""


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            MemoryError("Unable to allocate 9.8 TiB for an array"),
            "out of memory: Unable to allocate 9.8 TiB for an array",
        ),
        (
            XlaRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 8 GiB\nmore"),
            "out of memory: RESOURCE_EXHAUSTED: Out of memory allocating 8 GiB",
        ),
    ],
)
def test_memory_errors_anywhere_are_one_line(
    error: Exception, line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lstmctl.api

    def boom(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(lstmctl.api, "validate", boom)
    r = runner.invoke(app, ["validate", str(CASES / "valid.yaml")])
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr == f"lstmctl: error: {line}\n"


def test_other_exceptions_still_show_their_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import lstmctl.api

    def boom(*args: Any, **kwargs: Any) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(lstmctl.api, "validate", boom)
    r = runner.invoke(app, ["validate", str(CASES / "valid.yaml")])
    assert isinstance(r.exception, ValueError)


def test_the_problem_base_of_the_size_cases_is_valid() -> None:
    from lstmctl.api import validate

    validate(CASES / "size-problem.yaml")


def test_update_epochs_past_int32_are_a_usage_error(tmp_path: Path) -> None:
    csv = tmp_path / "new.csv"
    csv.write_text("a\n1\n")
    r = runner.invoke(
        app,
        ["update", "--model", str(tmp_path / "none"), "--data", str(csv), "--epochs", "3000000000"],
    )
    assert r.exit_code == 2, r.output
    assert (
        r.stderr == "lstmctl: error: --epochs: expected --epochs <= 2147483647, found 3000000000\n"
    )
