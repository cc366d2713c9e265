"""Sampling text from a fitted generative model, with a temperature.

A generative model (``arch: generative`` on ``data.problem: text``) maps a
window of tokens to the probabilities of the next one. Generating is a
loop: encode the prompt, predict, draw the next token, slide the window,
repeat. The temperature reshapes the probabilities before each draw:
``p ** (1 / T)``, renormalised — below 1 it favours the likely tokens (at 0,
always the most likely), above 1 it flattens them.

Everything the loop needs besides the model is in :class:`TextCodec`, which
is plain JSON (``Prepared.state["text"]``), so a saved model directory can
carry it in ``preprocess.json`` and generate without the training text:

    codec = TextCodec.from_state(state)
    text = generate_text(model, codec, "Socrates said", length=200, temperature=0.8)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstmctl.data.prepared import Prepared
from lstmctl.errors import UsageError
from lstmctl.spec import MAX_SEED, Spec
from lstmctl.training.result import FitResult

log = logging.getLogger("lstmctl")

# Punctuation written without a space before it when words are joined.
_CLOSING = set(".,;:!?)'")


@dataclass(frozen=True)
class TextCodec:
    """How text becomes model inputs and model outputs become text."""

    vocabulary: tuple[str, ...]
    level: str = "char"  # char | word
    window: int = 10
    encoding: str = "onehot"  # onehot | index
    lowercase: bool = False

    @classmethod
    def from_state(cls, state: dict[str, Any], where: str = "model") -> TextCodec:
        """From ``Prepared.state`` (or a saved ``preprocess.json``): its ``text`` entry."""
        text = state.get("text")
        if not isinstance(text, dict) or not text.get("vocabulary"):
            raise UsageError(
                "expected a model trained on text (data.problem: text) with its vocabulary, "
                "found no vocabulary",
                where=where,
            )
        return cls(
            vocabulary=tuple(text["vocabulary"]),
            level=str(text.get("level", "char")),
            window=int(text.get("window", 10)),
            encoding=str(text.get("encoding", "onehot")),
            lowercase=bool(text.get("lowercase", False)),
        )

    def encode(self, prompt: str) -> list[int]:
        """The prompt's token ids; a token the model never saw is an error naming it."""
        from lstmctl.data.problems.text import tokenize

        index = {t: i for i, t in enumerate(self.vocabulary)}
        tokens = tokenize(prompt, self.level, self.lowercase)
        unknown = sorted({t for t in tokens if t not in index})
        if unknown:
            shown = ", ".join(repr(t) for t in unknown[:10])
            raise UsageError(
                f"the prompt has {len(unknown)} {self.level}(s) the model never saw: {shown}",
                where="prompt",
            )
        return [index[t] for t in tokens]

    def decode(self, ids: list[int]) -> str:
        if self.level == "char":
            return "".join(self.vocabulary[i] for i in ids)
        out = ""
        for i in ids:
            out += self.piece(i, out[-1:])
        return out

    def piece(self, token: int, before: str) -> str:
        """Token ``token`` as text after text ending in ``before`` (its last character, or "")."""
        t = self.vocabulary[token]
        if self.level == "char":
            return t
        glue = not before or t[0] in _CLOSING or before == "("
        return t if glue else " " + t

    def window_input(self, ids: list[int]) -> np.ndarray:
        """The last ``window`` ids as one model input, left-padded when the prompt is short."""
        pad = self.vocabulary.index(" ") if " " in self.vocabulary else 0
        recent = ([pad] * self.window + list(ids))[-self.window :]
        if self.encoding == "index":
            return np.asarray(recent, dtype=np.float32).reshape(1, self.window, 1)
        x = np.zeros((1, self.window, len(self.vocabulary)), dtype=np.float32)
        x[0, np.arange(self.window), recent] = 1.0
        return x


def sample_index(probabilities: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Draw one class from ``probabilities`` reshaped by ``temperature`` (0: the most likely)."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64).ravel(), 1e-12, None)
    if temperature <= 0:
        return int(np.argmax(p))
    logits = np.log(p) / temperature
    w = np.exp(logits - logits.max())
    return int(rng.choice(len(w), p=w / w.sum()))


def generate_text(
    model: Any,
    codec: TextCodec,
    prompt: str = "",
    length: int = 200,
    temperature: float = 1.0,
    seed: int | None = None,
) -> str:
    """``length`` tokens sampled after ``prompt`` (the continuation only, as text)."""
    return "".join(iter_text(model, codec, prompt, length, temperature, seed))


def check_seed(seed: int | None, where: str = "seed") -> None:
    """A sampling seed takes the range of the spec's seeds: 0 .. 2**32 - 1."""
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise UsageError(f"expected a seed from 0 to {MAX_SEED} (2**32 - 1), found {seed}", where)


def iter_text(
    model: Any,
    codec: TextCodec,
    prompt: str = "",
    length: int = 200,
    temperature: float = 1.0,
    seed: int | None = None,
) -> Iterator[str]:
    """The continuation of ``prompt`` piece by piece, as each token is drawn (for streaming)."""
    if length < 0:
        raise UsageError(f"expected a length >= 0, found {length}", where="length")
    if temperature < 0:
        raise UsageError(f"expected a temperature >= 0, found {temperature}", where="temperature")
    check_seed(seed)
    rng = np.random.default_rng(seed)
    # Only the last `window` ids reach the model, and each token is decoded
    # once, after the last character written so far: every step costs the same.
    recent = codec.encode(prompt)[-codec.window :]
    last = ""  # the continuation's last character ("" before any)
    for n in range(length):
        probs = np.asarray(model.predict_on_batch(codec.window_input(recent)))
        token = sample_index(probs.reshape(-1), temperature, rng)
        recent = [*recent[1 - codec.window :], token] if codec.window > 1 else [token]
        text = codec.piece(token, last)
        last = (last + text)[-1:]
        if codec.level == "word" and prompt and n == 0:
            text = " " + text  # words continue a prompt after a space, as the text would
        yield text


# --------------------------------------------------------------------------- from a run


def fitted_model(spec: Spec, data: Prepared, fit: FitResult) -> Any:
    """A repeat's fitted weights in a fresh (stateless, any batch size) Keras model."""
    from lstmctl.models.registry import Shapes, build_model

    shapes = Shapes(
        lookback=data.lookback,
        n_inputs=int(data.X_train.shape[2]),
        horizon=data.horizon,
        n_targets=int(data.y_train.shape[2]),
        mask_value=data.mask_value,
        **data.shape_hints(),
    )
    # A stateful model carries state across batches in training; a model that
    # reads a full window per prediction needs none, and the weights are the same.
    model = build_model(spec.model.model_copy(update={"stateful": False}), shapes)
    model.set_weights(fit.weights)
    return model


class RunSamples:
    """Text sampled from a run's best repeat, for a run of a generative text spec.

    ``add`` sees every repeat and keeps the fitted weights of the one with the
    best test accuracy; ``write`` samples continuations of a few test-part
    prompts at a few temperatures into ``samples.txt`` and returns them.
    """

    temperatures = (0.2, 0.7, 1.0)

    def __init__(self, spec: Spec, data: Prepared, length: int = 200) -> None:
        self.spec, self.data, self.length = spec, data, length
        self.codec = TextCodec.from_state(data.state)
        self.best: tuple[float, int, FitResult] | None = None

    @classmethod
    def for_run(cls, spec: Spec, data: Prepared) -> RunSamples | None:
        """A collector when the run learns text, else None."""
        return cls(spec, data) if "text" in data.state else None

    def add(self, row: Any, fit: FitResult) -> None:
        if fit.error is not None or not fit.weights:
            return
        score = float(row.scores.get("accuracy", 0.0))
        if self.best is None or score > self.best[0]:
            self.best = (score, row.repeat, fit)

    def prompts(self, n: int = 2) -> list[str]:
        """Windows of held-out text (the test part), decoded back to text."""
        X = self.data.X_test if len(self.data.X_test) else self.data.X_train
        picks = np.linspace(0, len(X) - 1, n + 2)[1:-1].astype(int)
        out = []
        for i in picks:
            x = X[i]
            ids = x[:, 0].astype(int) if self.codec.encoding == "index" else x.argmax(axis=1)
            out.append(self.codec.decode([int(t) for t in ids]))
        return out

    def write(self, run_dir: Path) -> list[dict[str, Any]]:
        from lstmctl.rundir import write_atomic

        if self.best is None:
            return []
        _, repeat, fit = self.best
        model = fitted_model(self.spec, self.data, fit)
        samples = []
        for k, prompt in enumerate(self.prompts()):
            for t in self.temperatures:
                text = generate_text(
                    model, self.codec, prompt, self.length, t, seed=(self.spec.seed + k) % 2**32
                )
                samples.append({"repeat": repeat, "prompt": prompt, "temperature": t, "text": text})
        lines = [
            f"repeat {s['repeat']}, temperature {s['temperature']}:\n[{s['prompt']}]{s['text']}\n"
            for s in samples
        ]
        write_atomic(run_dir / "samples.txt", "\n".join(lines))
        log.info("generated %d samples into %s", len(samples), run_dir / "samples.txt")
        return samples
