"""The quick commands never import a deep-learning framework."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

HEAVY = ("tensorflow", "keras", "jax", "torch", "matplotlib", "optuna", "onnxruntime")

PROBE = """
import sys
from typer.testing import CliRunner
from lstmctl.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
assert result.exit_code == 0, result.stderr
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["list"],
        ["init", "stacked"],
        ["show-config", "configs/shampoo.yaml"],
        ["validate", "configs/shampoo.yaml"],
    ],
    ids=lambda a: a[0],
)
def test_quick_commands_import_no_framework(args: list[str], tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1:] in ([], [""]), p.stdout
