"""The suite's tiers at work on a small suite of their own (pytester): a test that uses the
real model is a ``model`` test, and a ``terminal`` test without tmux is skipped, except
under CI, where it fails and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

SUITE = """
import pytest

@pytest.fixture
def model_path():
    return "model.gguf"

@pytest.fixture
def settings(model_path):
    return model_path

def test_fast():
    pass

def test_with_the_model_through_a_fixture(settings):
    pass

@pytest.mark.terminal
def test_in_a_terminal():
    pass
"""


TIERS = ("-p", "tests.tiers", "-p", "no:textual-snapshot", "-p", "no:xdist")
"""The tiers' hooks, without the plugins that keep state for the whole outer run."""


@pytest.fixture
def suite(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(SUITE)
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "markers =\n    model: m\n    terminal: t\n"
    )
    no_tmux = tmp_path / "bin"
    no_tmux.mkdir()
    monkeypatch.setenv("PATH", str(no_tmux))
    monkeypatch.delenv("CI", raising=False)


def test_a_test_that_asks_for_the_model_is_left_out_of_the_fast_tier(
    pytester: pytest.Pytester, suite: None
) -> None:
    result = pytester.runpytest(*TIERS, "-m", "not model and not terminal")
    result.assert_outcomes(passed=1, deselected=2)
    result = pytester.runpytest(*TIERS, "-m", "model", "-v")
    result.stdout.fnmatch_lines(["*test_with_the_model_through_a_fixture PASSED*"])


def test_a_terminal_test_without_tmux_is_skipped_but_fails_under_ci(
    pytester: pytest.Pytester, suite: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = pytester.runpytest(*TIERS, "-m", "terminal", "-rs")
    result.assert_outcomes(skipped=1, deselected=2)
    result.stdout.fnmatch_lines(["*tmux is not installed*"])
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest(*TIERS, "-m", "terminal")
    result.assert_outcomes(errors=1, deselected=2)  # failed in its set-up
    result.stdout.fnmatch_lines(["*tmux is not installed, and CI needs every terminal test*"])
