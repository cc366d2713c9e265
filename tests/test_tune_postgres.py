"""Workers on a real PostgreSQL server share one study and split its trials.

`make test` installs PostgreSQL (scripts/test-postgres.sh install); this test
starts a throwaway server on loopback and skips, saying why, only when that
cannot be done. LSTMCTL_TEST_POSTGRES=postgresql://... uses a server of yours.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, shared_temp
from test_tune import tune_spec
from test_tune_workers import LRS, lstmctl

SCRIPT = ROOT / "scripts" / "test-postgres.sh"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    given = os.environ.get("LSTMCTL_TEST_POSTGRES")
    if given:
        yield given
        return
    try:
        p = subprocess.run(
            ["bash", str(SCRIPT), "start"], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot start a PostgreSQL server: {e}")
    if p.returncode != 0:
        reason = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"
        pytest.skip(f"cannot start a PostgreSQL server ({SCRIPT.name} start): {reason}")
    url, folder = p.stdout.split()
    try:
        yield url
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], capture_output=True, timeout=120)


@pytest.fixture(autouse=True)
def shared_compile_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    monkeypatch.setenv("LSTMCTL_JAX_CACHE", str(shared_temp(tmp_path_factory) / "jax-cache"))


def test_two_workers_split_a_postgresql_study(
    postgres_url: str, tmp_path: Path, tiny_csv: Path
) -> None:
    path = tune_spec(tmp_path, tiny_csv, {"space": {"train.learning_rate": LRS}, "repeats": 2})
    args = ("tune", str(path), "--storage", postgres_url, "--study", "shared", "-f", "json")
    # Two independent `lstmctl tune` commands, as on two machines.
    a, b = lstmctl(*args), lstmctl(*args)
    outs = [p.communicate(timeout=300) for p in (a, b)]
    for p, (_, err) in zip((a, b), outs, strict=True):
        assert p.returncode == 0, err
    reports = [json.loads(out) for out, _ in outs]
    # The reports read the shared study: its trials, whichever worker ran them. The
    # worker that ran out of trials first may still see the other's last one running.
    last = max(reports, key=lambda r: sum(t["state"] == "complete" for t in r["trials"]))
    assert last["complete"] is True
    trials = last["trials"]
    assert sorted(t["params"]["train.learning_rate"] for t in trials) == LRS
    assert all(t["state"] == "complete" for t in trials), trials
    workers = {t["worker"] for t in trials}
    assert len(workers) == 2, workers  # both claimed trials; none ran twice
    assert last["storage"].startswith("postgresql://") and last["study"] == "shared"
    # A third worker with another search space may not join the study.
    bad = lstmctl(*args, "--set", "tune.space.train.learning_rate=[0.5]")
    _, err = bad.communicate(timeout=300)
    assert bad.returncode == 2 and "different spec" in err
    assert len(list((tmp_path / "runs").iterdir())) == 2  # the refused one left no folder
