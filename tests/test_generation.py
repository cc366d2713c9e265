"""Sampling text from a generative model: the codec, temperature, and a run's samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_spec
from typer.testing import CliRunner

from lstmctl.cli import app
from lstmctl.errors import UsageError
from lstmctl.serving.generation import TextCodec, generate_text, sample_index

VOCAB = (" ", ".", "a", "b", "c", "d")


def test_codec_round_trips_characters_and_words() -> None:
    chars = TextCodec(VOCAB, window=3)
    ids = chars.encode("ab  c.")  # whitespace runs become one space, as in training
    assert chars.decode(ids) == "ab c."
    words = TextCodec(("(", ")", ",", ".", "a", "cat", "sat"), level="word", lowercase=True)
    assert words.decode(words.encode("A cat, (sat).")) == "a cat, (sat)."


def test_codec_refuses_tokens_it_never_saw() -> None:
    with pytest.raises(UsageError, match="never saw: 'x', 'z'") as e:
        TextCodec(VOCAB).encode("xaz")
    assert e.value.where == "prompt"
    with pytest.raises(UsageError, match="no vocabulary"):
        TextCodec.from_state({"inputs": ["Sales"]})


def test_codec_from_a_prepared_state() -> None:
    state = {"text": {"vocabulary": list(VOCAB), "level": "char", "window": 4, "encoding": "index"}}
    codec = TextCodec.from_state(state)
    assert codec.window == 4 and codec.encoding == "index" and codec.vocabulary == VOCAB


def test_window_input_pads_a_short_prompt_with_spaces() -> None:
    onehot = TextCodec(VOCAB, window=4)
    x = onehot.window_input(onehot.encode("ab"))
    assert x.shape == (1, 4, 6)
    assert "".join(VOCAB[i] for i in x[0].argmax(axis=1)) == "  ab"
    index = TextCodec(VOCAB, window=4, encoding="index")
    x = index.window_input(index.encode("abcdc"))  # longer: the last window only
    assert x.shape == (1, 4, 1) and x[0, :, 0].tolist() == [3, 4, 5, 4]


def test_temperature_reshapes_the_distribution() -> None:
    p = np.array([0.1, 0.6, 0.3])
    rng = np.random.default_rng(0)
    assert sample_index(p, 0.0, rng) == 1  # greedy
    draws = {
        t: np.bincount([sample_index(p, t, rng) for _ in range(3000)], minlength=3) / 3000
        for t in (0.3, 1.0, 3.0)
    }
    np.testing.assert_allclose(draws[1.0], p, atol=0.03)  # T = 1: the model's own odds
    assert draws[0.3][1] > 0.85  # cold: mostly the likeliest
    assert draws[3.0][0] > 0.2  # hot: flatter


class NextLetter:
    """A stand-in model: after token i comes token i + 1 (cyclically), almost surely."""

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        last = int(x[0, -1].argmax())
        p = np.full((1, 1, len(VOCAB)), 0.01)
        p[0, 0, (last + 1) % len(VOCAB)] = 1.0
        return p / p.sum()


def test_generate_text_slides_the_window_over_its_own_output() -> None:
    codec = TextCodec(VOCAB, window=2)
    assert generate_text(NextLetter(), codec, "ab", length=6, temperature=0) == "cd .ab"
    assert generate_text(NextLetter(), codec, "", length=2, temperature=0) == ".a"
    a = generate_text(NextLetter(), codec, "a", length=30, temperature=5.0, seed=3)
    assert a == generate_text(NextLetter(), codec, "a", length=30, temperature=5.0, seed=3)
    assert a != "bcd .abcd .abcd .abcd .abcd .a"  # hot: not always the likeliest
    with pytest.raises(UsageError, match="temperature >= 0"):
        generate_text(NextLetter(), codec, "a", temperature=-1)


def test_run_of_a_text_spec_generates_samples(tmp_path: Path) -> None:
    text = tmp_path / "rhyme.txt"
    text.write_text("Sing a song of sixpence, a pocket full of rye. " * 12)
    spec = write_spec(
        tmp_path / "text.yaml",
        {
            "name": "rhyme",
            "runs_dir": str(tmp_path / "runs"),
            "data": {"problem": "text", "params": {"path": str(text), "window": 6}},
            "model": {"arch": "generative", "units": 8},
            "train": {"epochs": 2, "batch_size": 32},
            "evaluate": {"repeats": 2},
        },
    )
    r = CliRunner().invoke(app, ["run", str(spec)])
    assert r.exit_code == 0, r.stderr
    assert "accuracy" in r.stdout and "samples from repeat" not in r.stdout
    assert "samples from repeat" in r.stderr and "T=0.2" in r.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    samples = results["samples"]
    assert {s["temperature"] for s in samples} == {0.2, 0.7, 1.0}
    vocab = set("Sing a song of sixpence, a pocket full of rye. ")
    assert all(len(s["text"]) == 200 and set(s["text"]) <= vocab for s in samples)
    assert (run_dir / "samples.txt").read_text().count("temperature") == len(samples)
