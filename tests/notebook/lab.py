"""A real JupyterLab for browser tests: started on a loopback port in a temporary root,
stopped with everything it started (kernels included)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook(cells: list[str]) -> dict:
    """An nbformat 4 notebook of code cells."""
    return {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": src,
                "outputs": [],
                "execution_count": None,
            }
            for src in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


class Lab:
    """``jupyter lab`` in ``root``: ``url(path)`` opens a notebook with the token."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "JUPYTER_NO_CONFIG": "1"}
        env["ALGOBT_HOME"] = str(self.root / ".algobt")
        self.log = open(self.root / "jupyter.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                f"--port={self.port}",
                "--ip=127.0.0.1",
                f"--ServerApp.root_dir={self.root}",
                f"--IdentityProvider.token={self.token}",
                "--ServerApp.port_retries=0",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            cwd=self.root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(self.api("status"), timeout=2) as resp:
                    json.load(resp)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        "jupyter lab did not start:\n"
                        + (self.root / "jupyter.log").read_text(errors="replace")[-3000:]
                    ) from None
                time.sleep(0.3)

    def api(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/api/{path}?token={self.token}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{path}?token={self.token}&reset"

    def write(self, name: str, cells: list[str]) -> str:
        (self.root / name).write_text(json.dumps(notebook(cells)), "utf-8")
        return name

    def stop(self) -> None:
        """Shut the server down (its kernels with it); kill its process group if it lingers."""
        if self.proc.poll() is None:
            try:
                req = urllib.request.Request(self.api("shutdown"), method="POST")
                urllib.request.urlopen(req, timeout=10).close()
            except OSError:
                pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
        self.log.close()
