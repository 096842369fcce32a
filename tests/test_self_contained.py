"""The README, docs/ and the package name no document outside this repository.

A user of the repository has only what is in it: the reference lives in docs/, so a
pointer to a file elsewhere (a spec or report the authors had beside the repository)
is a dead end for them.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Names of documents that lived outside the repository, and paths leading out of it.
OUTSIDE = re.compile(
    r"\.\./shared|shared/SPEC|\bSPEC\b"
    r"|(?i:seed[- ]report)|\breport(?:'s)? §|\bthe report's\b|of the report\b|/work/"
)

# Files other branches of the same change rewrite, each cleaning its own references;
# they are checked once those branches are merged. Empty this set then: the last test
# fails for every file here that no longer needs to be in it.
PENDING: set[str] = set()  # files allowed to keep a reference for now (none left)


def _checked_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    files += sorted((ROOT / "algobt").rglob("*.py"))
    files += [ROOT / "pyproject.toml"]
    return [f for f in files if f.is_file()]


def test_the_files_checked_are_the_real_ones():
    names = {f.relative_to(ROOT).as_posix() for f in _checked_files()}
    assert {"README.md", "docs/api.md", "algobt/engine/run.py", "pyproject.toml"} <= names


def _references(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(lines, 1)
        if OUTSIDE.search(line)
    ]


def test_no_reference_to_a_document_outside_the_repository():
    found = [
        ref
        for path in _checked_files()
        if path.relative_to(ROOT).as_posix() not in PENDING
        for ref in _references(path)
    ]
    assert not found, "point at docs/ instead:\n" + "\n".join(found)


def test_pending_files_are_still_pending():
    clean = sorted(
        name for name in PENDING if not (ROOT / name).is_file() or not _references(ROOT / name)
    )
    assert not clean, f"no outside references left in {clean}: remove them from PENDING"


def test_the_pattern_catches_what_it_must():
    for text in (
        "see ../shared/SPEC.md",
        "SPEC §3",
        "SPEC's BacktestResult",
        "SPEC ``Trade``",
        "the Seed Report",
        "the report's §3",
        "SPEC BacktestConfig",
        "(SPEC: ``GET …``)",
        "both spellings of the report are accepted",
    ):
        assert OUTSIDE.search(text), text
    for text in ("INDICATOR_SPECS", "docs/api.md", "a report of the run", "spec's", "SPECS"):
        assert not OUTSIDE.search(text), text
