"""Fixtures that turn policy text into a loaded Policy through a real file."""

from collections.abc import Callable
from pathlib import Path

import pytest

from eligibility import Policy, load_policy


@pytest.fixture
def write_policy(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "policy.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def policy_from_text(write_policy: Callable[[str], Path]) -> Callable[[str], Policy]:
    """Writes the text to a file and loads it, the way the app does."""

    def load(text: str) -> Policy:
        return load_policy(write_policy(text))

    return load


@pytest.fixture(scope="session")
def default_policy() -> Policy:
    return load_policy()
