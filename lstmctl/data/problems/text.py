"""``text``: a text file cut into windows of tokens -> the next token (lesson 11).

Characters (``level: char``) or words (``level: word``) are the tokens;
runs of whitespace become one space. Each window of ``window`` tokens is an
input, the token after it the target (one-hot over the vocabulary). Inputs
are one-hot vectors (``encoding: onehot``) or token ids for a model with an
embedding (``encoding: index``). The windows keep the text's order, so the
test part is the end of the text, unseen in training.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import PositiveInt

from lstmctl.data.problems.encoding import one_hot
from lstmctl.data.problems.registry import Generated, ProblemParams, register_problem
from lstmctl.errors import DataError, undecodable
from lstmctl.memory import check_fits

# A word, or one punctuation mark (kept as its own token).
WORD = re.compile(r"[\w']+|[^\w\s]")


class TextParams(ProblemParams):
    path: str
    level: Literal["char", "word"] = "char"
    window: PositiveInt = 10
    encoding: Literal["onehot", "index"] = "onehot"
    lowercase: bool = False
    # Read at most this many characters from the start of the file.
    max_chars: PositiveInt | None = None


def tokenize(text: str, level: str, lowercase: bool) -> list[str]:
    """The text's tokens: characters or words, whitespace runs made one space."""
    text = " ".join(text.split())
    if lowercase:
        text = text.lower()
    return list(text) if level == "char" else WORD.findall(text)


def read_text(p: TextParams) -> str:
    path = Path(p.path)
    if not path.is_file():
        raise DataError("text file not found", where=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line, found = undecodable(e)
        raise DataError(
            f"expected UTF-8 text, {found} on line {line} (offset {e.start})", where=str(path)
        ) from None
    return text[: p.max_chars] if p.max_chars else text


@register_problem(
    "text",
    "a text file as windows of characters or words -> the next one (lesson 11, generative)",
    TextParams,
)
def generate(p: TextParams, rng: np.random.Generator) -> Generated:
    tokens = tokenize(read_text(p), p.level, p.lowercase)
    if len(tokens) <= p.window + 1:
        raise DataError(
            f"expected more than window + 1 = {p.window + 1} {p.level}s of text, "
            f"found {len(tokens)}",
            where=p.path,
        )
    vocabulary = sorted(set(tokens))
    index = {t: i for i, t in enumerate(vocabulary)}
    ids = np.array([index[t] for t in tokens], dtype=np.int64)
    n = len(ids) - p.window
    # One-hot windows repeat every token `window` times over the whole vocabulary.
    width = p.window * len(vocabulary) if p.encoding == "onehot" else p.window
    check_fits(
        4 * n * (width + len(vocabulary)),
        where="data.params.window",
        what=f"{n} windows of {p.window} {p.level}s, one-hot over {len(vocabulary)} tokens"
        if p.encoding == "onehot"
        else f"{n} windows of {p.window} {p.level}s and {len(vocabulary)}-token targets",
        fix="use a smaller data.params.window or data.params.max_chars"
        + (
            ", or data.params.encoding: index (with model.embedding)"
            if p.encoding == "onehot"
            else ""
        ),
    )
    windows = np.lib.stride_tricks.sliding_window_view(ids, p.window)[:n]
    if p.encoding == "onehot":
        X = one_hot(windows, len(vocabulary))
        input_names = vocabulary
    else:
        X = windows[..., None].astype(np.float32)
        input_names = ["token"]
    return Generated(
        X=X,
        y=one_hot(ids[p.window :, None], len(vocabulary)),
        task="classification",
        input_names=input_names,
        target_names=["next"],
        classes=vocabulary,
        input_vocab=len(vocabulary) if p.encoding == "index" else None,
        state={
            "text": {
                "level": p.level,
                "window": p.window,
                "encoding": p.encoding,
                "lowercase": p.lowercase,
                "vocabulary": vocabulary,
            }
        },
    )
