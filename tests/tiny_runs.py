"""Tiny specs for module-scoped fixtures (conftest's fixtures are per test)."""

from __future__ import annotations

from pathlib import Path

from conftest import tiny_raw_spec, write_spec, write_tiny_csv


def tiny_spec_file(folder: Path) -> Path:
    """The conftest tiny spec (60 noisy monthly rows, 3 epochs), for module-scoped runs."""
    return write_spec(folder / "tiny.yaml", tiny_raw_spec(folder, write_tiny_csv(folder)))
