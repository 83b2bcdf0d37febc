"""The settings screen (Pilot): edits the file atomically and applies what it can at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.widgets import Input, Label, TextArea

from tests.helpers import SIZE, wait_until
from tui_chat.core import config
from tui_chat.core.paths import UserPaths
from tui_chat.ui.app import ChatApp
from tui_chat.ui.screens.settings import SettingsScreen

MakeApp = Callable[..., ChatApp]


async def test_settings_are_saved_to_the_file_and_applied(
    make_app: MakeApp, paths: UserPaths
) -> None:
    path = config.config_path(paths.config)
    path.parent.mkdir(parents=True)
    path.write_text("crash_limit = 5\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await wait_until(lambda: isinstance(app.screen, SettingsScreen), message="settings")
        screen = app.screen
        screen.query_one("#temperature", Input).value = "0.6"
        screen.query_one("#max_tokens", Input).value = "77"
        screen.query_one("#system_prompt", TextArea).load_text('Answer in "haiku".')
        await pilot.press("ctrl+s")
        await wait_until(lambda: not isinstance(app.screen, SettingsScreen), message="saved")
        assert app.service.settings.sampling.temperature == 0.6
        assert app.service.settings.max_tokens == 77
        assert app.service.settings.system_prompt == 'Answer in "haiku".'
    app.store.close_now()
    saved = config.load(path)
    assert saved == {
        "crash_limit": 5,  # kept from the file
        "temperature": 0.6,
        "max_tokens": 77,
        "system_prompt": 'Answer in "haiku".',
    }, "unchanged settings (the model path) must not be pinned in the file"
    assert [p.name for p in path.parent.iterdir()] == [path.name]


async def test_a_bad_value_is_explained_and_nothing_is_written(
    make_app: MakeApp, paths: UserPaths
) -> None:
    app = make_app()
    path: Path = config.config_path(paths.config)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await wait_until(lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#top_p", Input).value = "7"
        await pilot.press("ctrl+s")
        problem = app.screen.query_one("#settings-problem", Label)
        await wait_until(lambda: "top_p" in str(problem.render()), message="the problem")
        assert "must be in (0.0, 1.0]" in str(problem.render())
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, SettingsScreen))
    app.store.close_now()
    assert not path.exists()
