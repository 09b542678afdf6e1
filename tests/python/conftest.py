"""Shared paths for the Python tests: the fixtures live in the repository's tests/fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def sample_dir(folder: str) -> Path:
    """The single feature directory of a spec-kitty sample."""
    specs = FIXTURES / "spec-kitty" / folder / "kitty-specs"
    (feature,) = [p for p in specs.iterdir() if p.is_dir()]
    return feature


def broken_cases() -> list[tuple[str, Path, list[str]]]:
    """(case, feature dir, expected lines) for the broken-feature corpus."""
    cases = []
    for case in sorted((FIXTURES / "broken").iterdir()):
        if not case.is_dir():
            continue
        expected = (case / "expected.txt").read_text().splitlines()
        (feature,) = [p for p in case.iterdir() if p.name != "expected.txt"]
        cases.append((case.name, feature, expected))
    return cases


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
