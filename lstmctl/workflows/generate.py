"""Sample text from a saved generative model (``lstmctl generate``).

The model directory is opened and verified here; the sampling itself (codec,
temperature, seeds) is :mod:`lstmctl.serving.generation`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lstmctl.errors import ModelDirError
from lstmctl.modeldir.format import open_model_dir


def generate(
    model_dir: str | Path,
    prompt: str = "",
    length: int = 200,
    temperature: float = 1.0,
    seed: int | None = None,
) -> Iterator[str]:
    """Sample text from a saved generative model, piece by piece (see serving.generation)."""
    from lstmctl.serving.generation import TextCodec, check_seed, iter_text
    from lstmctl.training.backend import use_backend

    check_seed(seed, where="--seed")  # before the model is loaded
    md = open_model_dir(model_dir)
    if md.manifest.get("kind") != "generative":
        raise ModelDirError(
            f"expected a generative text model, found a {md.manifest.get('kind')!r} model "
            "(use lstmctl predict)",
            where=str(model_dir),
        )
    codec = TextCodec.from_state(md.preprocess, where=str(md.path / "preprocess.json"))
    use_backend(md.spec().backend)
    model = md.load_keras()
    return iter_text(model, codec, prompt, length, temperature, seed)
