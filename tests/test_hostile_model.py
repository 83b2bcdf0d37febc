"""Bad model files. A cut-short file is explained in the banner and another model can be
chosen in the app. Hostile chat templates (the real model, its metadata rewritten with
the GGUF project's own tools): one that reaches for Python's internals is refused with a
clear error; one that runs away is stopped; neither takes the app down."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Label

from tests.helpers import (
    ANSWERED,
    SIZE,
    Recorder,
    in_log,
    loaded,
    pid_gone,
    put_and_send,
    ready,
    reply_finished,
    wait_until,
)
from tui_chat.core.protocol import ChatMessage, DoneReason, Error
from tui_chat.core.settings import Settings
from tui_chat.service.events import ServiceState, WorkerCrashed
from tui_chat.service.llm_service import LlmService
from tui_chat.ui.app import ChatApp
from tui_chat.ui.screens.settings import SettingsScreen
from tui_chat.ui.widgets.chat_log import Notice

LONG_STORY = [ChatMessage("user", "Write a long story about a dragon who learns to sail.")]
ESCAPE = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
RUNAWAY = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def with_template(model: Path, template: str, out: Path) -> Path:
    source = out.with_suffix(".jinja")
    source.write_text(template)
    subprocess.run(
        [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", "--force",
         "--chat-template-file", str(source), str(model), str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def escaping_model(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_template(model_path, ESCAPE, tmp_path_factory.mktemp("m") / "escape.gguf")


@pytest.fixture(scope="module")
def runaway_model(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_template(model_path, RUNAWAY, tmp_path_factory.mktemp("m") / "runaway.gguf")


@pytest.fixture
async def escaping(
    escaping_model: Path, model_settings: Settings, start_service: Callable[..., LlmService]
) -> tuple[LlmService, Recorder]:
    recorder = Recorder()
    return start_service(recorder, base=model_settings, model=escaping_model), recorder


@pytest.fixture
async def runaway(
    runaway_model: Path, model_settings: Settings, start_service: Callable[..., LlmService]
) -> tuple[LlmService, Recorder]:
    recorder = Recorder()
    return start_service(recorder, base=model_settings, model=runaway_model), recorder


async def test_a_template_that_reaches_for_python_internals_is_refused(
    escaping: tuple[LlmService, Recorder],
) -> None:
    service, recorder = escaping
    await ready(service)
    pid = service.worker_pid
    rid = service.generate(LONG_STORY)
    await wait_until(lambda: recorder.done(rid), message="the refusal")
    done = recorder.done(rid)
    assert done is not None
    assert done.reason is DoneReason.ERROR
    error = next(e for e in recorder.of(Error) if e.request_id == rid)
    assert "chat template failed (SecurityError" in error.message
    assert "Choose another model" in error.message
    assert service.worker_pid == pid, "the worker survives"
    assert not recorder.of(WorkerCrashed)


def _cpu_seconds(pid: int) -> float:
    """CPU time ``pid`` has used (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def test_a_runaway_template_is_stopped_and_esc_still_works(
    runaway: tuple[LlmService, Recorder],
) -> None:
    service, recorder = runaway
    await ready(service)
    # Left alone, the render is cut off after TEMPLATE_SECONDS with a clear error.
    rid = service.generate(LONG_STORY)
    await wait_until(lambda: recorder.done(rid), timeout=30, message="the time limit")
    error = next(e for e in recorder.of(Error) if e.request_id == rid)
    assert "ran for more than 10 s and was stopped" in error.message
    # Esc does not wait that long: the worker, deaf while it renders, is replaced.
    pid = service.worker_pid
    assert pid is not None
    rid = service.generate(LONG_STORY)
    # Rendering, not about to: a stop that arrives first is answered at once.
    cpu = _cpu_seconds(pid)
    await wait_until(lambda: _cpu_seconds(pid) > cpu + 0.3, message="the render running")
    service.stop()
    await wait_until(lambda: recorder.done(rid), message="the stop")
    done = recorder.done(rid)
    assert done is not None
    # Ended by the stop deadline, not by the template's time limit (that would be an error).
    assert done.reason is DoneReason.STOPPED
    assert "did not answer Esc" in recorder.of(WorkerCrashed)[-1].notice
    await wait_until(lambda: pid_gone(pid), message="the deaf worker ended")
    await ready(service)


async def test_a_broken_model_file_says_why_in_the_banner_and_another_can_be_chosen(
    make_app: Callable[..., ChatApp], model_settings: Settings, model_path: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(model_path.read_bytes()[:2_000_000])  # a download cut short
    app = make_app(model_settings, model=broken)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.main.banner.message(), message="the banner")
        banner = app.main.banner.message()
        assert str(broken) in banner
        assert "corrupted or incomplete" in banner
        assert "Traceback" not in banner
        assert "F3 to choose another model" in banner
        assert app.service.state is ServiceState.LOAD_FAILED
        assert not in_log(app, Notice), "a load error is not a crash loop"
        # Choose another model in the settings: a wrong path is explained, then the real one.
        await pilot.press("f3")
        await wait_until(lambda: isinstance(app.screen, SettingsScreen), message="settings")
        app.screen.query_one("#model", Input).value = str(tmp_path / "missing.gguf")
        await pilot.press("ctrl+s")
        problem = app.screen.query_one("#settings-problem", Label)
        await wait_until(lambda: "Model file not found" in str(problem.render()))
        app.screen.query_one("#model", Input).value = str(model_path)
        await pilot.press("ctrl+s")
        await wait_until(lambda: not isinstance(app.screen, SettingsScreen), message="saved")
        await loaded(app)
        assert not app.main.banner.shown
        assert app.service.settings.model == model_path
        await put_and_send(app, pilot, "Say hello.")
        assert (await reply_finished(app)).status in ANSWERED
