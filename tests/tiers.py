"""The tiers of the suite (see docs/development.md): which tests are ``model`` tests, and
what a ``terminal`` test does when the machine has no tmux."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.hookimpl(tryfirst=True)  # before -m chooses by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses the real model is a ``model`` test, however it gets it."""
    for item in items:
        if "model_path" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A terminal test needs tmux: skipped without it, but a failure under CI, where a
    missing tmux means the machine is not what the suite needs."""
    if item.get_closest_marker("terminal") and shutil.which("tmux") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("tmux is not installed, and CI needs every terminal test to run")
        pytest.skip("tmux is not installed")
