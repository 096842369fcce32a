"""notebooks/ run top to bottom, offline, with the asserts in their cells (nbval, lax mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbval")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]


def test_every_notebook_runs_with_its_asserts():
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert [n[:2] for n in notebooks] == ["01", "02", "03", "04", "05", "06"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ALGOBT_HOME": str(ROOT / "tests" / "artifacts")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "notebooks/",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
