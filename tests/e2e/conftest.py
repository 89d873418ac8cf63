"""Fixtures for the end-to-end tests: a fresh root per test, and the native oracle."""

from __future__ import annotations

import pytest

from .harness import native_unavailable


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: runs example programs through the ntsim CLI")


@pytest.fixture(scope="session")
def native_ok() -> None:
    """Skip a test that compares with a native run when this machine cannot make one."""
    reason = native_unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def root(tmp_path):
    """An empty directory to back the guest's /."""
    directory = tmp_path / "root"
    directory.mkdir()
    return directory
