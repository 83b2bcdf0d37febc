"""The settings screen (Pilot): edits the file atomically and applies what it can at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Label, TextArea

from tests.helpers import SIZE, every_setting, wait_until
from tui_chat.core import config
from tui_chat.core.options import SCREEN_ORDER
from tui_chat.core.paths import UserPaths
from tui_chat.core.script import Script
from tui_chat.core.settings import Settings, settings_from
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


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("top_p", "20", "Not saved: top_p: must be in (0.0, 1.0], got 20.0"),
        ("max_tokens", "many", "Not saved: Most tokens in an answer: 'many' is not a whole number"),
    ],
)
async def test_a_bad_value_is_explained_where_it_is_seen_and_nothing_is_written(
    make_app: MakeApp, paths: UserPaths, field: str, value: str, said: str
) -> None:
    app = make_app()
    path: Path = config.config_path(paths.config)
    async with app.run_test(size=(110, 32)) as pilot:
        await pilot.press("f3")
        await wait_until(lambda: isinstance(app.screen, SettingsScreen))
        screen = app.screen
        screen.query_one(f"#{field}", Input).value = value
        screen.query_one(f"#{field}", Input).focus()  # far down the dialog
        await pilot.pause()
        await pilot.press("ctrl+s")
        problem = screen.query_one("#settings-problem", Label)
        await wait_until(lambda: str(problem.render()) == said, message="the problem")
        await pilot.pause()
        dialog = screen.query_one("#settings")
        assert dialog.region.contains_region(problem.region), "the problem is out of sight"
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, SettingsScreen))
    app.store.close_now()
    assert not path.exists()


@pytest.mark.parametrize("size", [(110, 32), (200, 50)])
async def test_the_system_prompt_field_shows_its_text(
    make_app: MakeApp, size: tuple[int, int]
) -> None:
    app = make_app(system_prompt="Answer briefly.\nIn French.")
    async with app.run_test(size=size) as pilot:
        await pilot.press("f3")
        await wait_until(lambda: isinstance(app.screen, SettingsScreen))
        await pilot.pause()
        field = app.screen.query_one("#system_prompt", TextArea)
        assert field.content_region.height >= 3, "no room for the text"


@pytest.mark.parametrize(("language", "said"), [("English", False), ("German", True)])
async def test_saving_mentions_the_next_start_only_when_the_language_changed(
    make_app: MakeApp, paths: UserPaths, language: str, said: bool
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await wait_until(lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one("#translation_language", Input).value = language
        app.screen.query_one("#temperature", Input).value = "0.5"
        await pilot.press("ctrl+s")
        await wait_until(lambda: not isinstance(app.screen, SettingsScreen), message="saved")
        await wait_until(lambda: app._notifications, message="the notice")
        (notice,) = [n.message for n in app._notifications]
        path = config.config_path(paths.config)
        assert notice.startswith(f"Saved to {path}.")
        assert ("takes effect at the next start" in notice) is said


async def test_every_setting_goes_from_the_file_through_the_screen_back_to_the_file(
    make_app: MakeApp, paths: UserPaths, tmp_path: Path
) -> None:
    model = tmp_path / "other.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    path = config.config_path(paths.config)
    written = every_setting(model)
    assert written.keys() == config.OPTIONS.keys(), "a setting is missing from this test"
    config.save(path, written)
    from_file = settings_from(model, config.load(path))
    app = make_app(from_file, script=Script())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await wait_until(lambda: isinstance(app.screen, SettingsScreen), message="settings")
        for key in SCREEN_ORDER:
            if key == "system_prompt":
                shown = app.screen.query_one(f"#{key}", TextArea).text
            else:
                shown = app.screen.query_one(f"#{key}", Input).value
            assert shown == str(written[key]), key
        await pilot.press("ctrl+s")
        await wait_until(lambda: not isinstance(app.screen, SettingsScreen), message="saved")
        assert app.service.settings.values() == written
    app.store.close_now()
    assert config.load(path) == written


async def test_a_new_gpu_setting_loads_the_model_again_with_it(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        reloads: list[Settings] = []

        async def reload(settings: Settings) -> None:
            reloads.append(settings)

        monkeypatch.setattr(app.service, "reload", reload)
        for field, value in (("gpu_layers", "8"), ("flash_attn", "on"), ("cache_type", "q8_0")):
            await pilot.press("f3")
            await wait_until(lambda: isinstance(app.screen, SettingsScreen), message="settings")
            app.screen.query_one(f"#{field}", Input).value = value
            before = len(reloads)
            await pilot.press("ctrl+s")
            await wait_until(lambda n=before: len(reloads) > n, message=f"{field} loads")
            app.service.settings = reloads[-1]
        command = reloads[-1].load_command()
        assert (command.gpu_layers, command.flash_attn, command.cache_type) == (8, True, "q8_0")
    app.store.close_now()
