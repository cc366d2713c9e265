"""finalize a generative text model, then `lstmctl generate` from its directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, write_spec
from typer.testing import CliRunner

from lstmctl.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def saved_text_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("gen")
    rhyme = tmp / "rhyme.txt"
    shutil.copy(ROOT / "datasets" / "rhyme.txt", rhyme)
    spec = write_spec(
        tmp / "rhyme.yaml",
        {
            "name": "rhyme",
            "data": {
                "problem": "text",
                "params": {"path": str(rhyme), "level": "char", "window": 5},
                "split": {"test": 0.1},
            },
            "model": {"arch": "generative", "units": 16, "output_activation": "softmax"},
            "train": {"epochs": 2, "batch_size": 32, "loss": "categorical_crossentropy"},
            "evaluate": {"repeats": 1, "metrics": ["accuracy"], "baseline": "majority"},
        },
    )
    out = tmp / "saved" / "rhyme"
    r = runner.invoke(app, ["finalize", str(spec), "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    return out


def test_finalize_saves_the_text_codec(saved_text_model: Path) -> None:
    import json

    manifest = json.loads((saved_text_model / "manifest.json").read_text())
    assert manifest["kind"] == "generative"
    pre = json.loads((saved_text_model / "preprocess.json").read_text())
    assert pre["text"]["window"] == 5 and " " in pre["text"]["vocabulary"]
    assert not (saved_text_model / "data.csv").exists()  # the text itself is not copied


def test_generate_streams_text_with_a_seed(saved_text_model: Path) -> None:
    args = [
        "generate",
        "--model",
        str(saved_text_model),
        "--prompt",
        "ack and",
        "--length",
        "30",
        "--seed",
        "3",
        "--temperature",
        "0.8",
    ]
    a = runner.invoke(app, args)
    assert a.exit_code == 0, a.stderr
    text = a.stdout.rstrip("\n")
    assert len(text) == 30
    vocab = set((ROOT / "datasets" / "rhyme.txt").read_text())
    assert set(text) <= vocab
    assert runner.invoke(app, args).stdout == a.stdout  # the seed makes it repeatable
    greedy = runner.invoke(app, [*args[:-2], "--temperature", "0"])
    assert greedy.exit_code == 0 and len(greedy.stdout.rstrip("\n")) == 30


def test_generate_refuses_unknown_characters_and_forecast_models(
    saved_text_model: Path, tmp_path: Path
) -> None:
    r = runner.invoke(app, ["generate", "--model", str(saved_text_model), "--prompt", "€€"])
    assert r.exit_code == 2 and "never saw" in r.stderr
    r = runner.invoke(app, ["generate", "--model", str(tmp_path / "missing")])
    assert r.exit_code == 2 and r.stdout == ""
