"""F4, and F4 in F3: the models on this machine, filtered as one types; Enter loads one
(F4) or puts it in the model field (F3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, OptionList

from tests.helpers import SIZE, loaded, wait_until
from tests.test_model_files import write_gguf
from tui_chat.core import config
from tui_chat.core.paths import UserPaths
from tui_chat.core.settings import Settings
from tui_chat.ui.app import ChatApp
from tui_chat.ui.screens.models import ModelsScreen
from tui_chat.ui.screens.settings import SettingsScreen


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with two models in ~/models and one in LM Studio's folder."""
    home = tmp_path / "home"
    write_gguf(home / "models/qwen-Q4_K_M.gguf", file_type=15)
    write_gguf(home / "models/llama-Q8_0.gguf", file_type=7, template=None)
    write_gguf(home / ".lmstudio/models/pub/repo/gemma-Q6_K.gguf", file_type=18)
    monkeypatch.setenv("HOME", str(home))
    for key in ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS", "LLAMA_CACHE"):
        monkeypatch.delenv(key, raising=False)
    return home


def _shown(app: ChatApp) -> list[str]:
    options = app.screen.query_one(OptionList)
    return [str(options.get_option_at_index(n).prompt) for n in range(options.option_count)]


async def test_f4_lists_filters_and_loads_the_model_chosen_and_keeps_it(
    make_app: object, home: Path, paths: UserPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()  # type: ignore[operator]
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        reloads: list[Settings] = []

        async def reload(settings: Settings) -> None:
            reloads.append(settings)

        monkeypatch.setattr(app.service, "reload", reload)
        await pilot.press("f4")
        await wait_until(lambda: isinstance(app.screen, ModelsScreen), message="the list")
        await wait_until(lambda: any("qwen" in line for line in _shown(app)), message="models")
        lines = _shown(app)
        assert any(
            line.startswith("llama-Q8_0.gguf  Q8_0 · ") and "no chat template" in line
            for line in lines
        )
        assert any(line.startswith("pub/repo/gemma-Q6_K.gguf  Q6_K") for line in lines)
        await pilot.press(*"q6")
        await wait_until(lambda: len(_shown(app)) == 1, message="filtered")
        await pilot.press("enter")
        await wait_until(lambda: reloads, message="the model loads")
        chosen = home / ".lmstudio/models/pub/repo/gemma-Q6_K.gguf"
        assert reloads[-1].model == chosen
        assert reloads[-1].server == ""
    saved = config.load(config.config_path(paths.config))
    assert saved["model"] == str(chosen)


async def test_f4_in_the_settings_puts_the_model_chosen_in_its_field(
    make_app: object, home: Path
) -> None:
    app = make_app()  # type: ignore[operator]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await wait_until(lambda: isinstance(app.screen, SettingsScreen), message="settings")
        settings = app.screen
        await pilot.press("f4")
        await wait_until(lambda: isinstance(app.screen, ModelsScreen), message="the list")
        await wait_until(lambda: any("llama" in line for line in _shown(app)), message="models")
        await pilot.press(*"llama", "enter")
        await wait_until(lambda: app.screen is settings, message="back in the settings")
        assert settings.query_one("#model", Input).value == str(home / "models/llama-Q8_0.gguf")


async def test_no_model_found_is_said(
    make_app: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "empty"))
    for key in ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS", "LLAMA_CACHE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr("tui_chat.core.model_files.bundled_model_path", lambda: None)
    app = make_app()  # type: ignore[operator]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f4")
        await wait_until(lambda: isinstance(app.screen, ModelsScreen), message="the list")
        await wait_until(lambda: "No GGUF models found" in " ".join(_shown(app)), message="none")
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, ModelsScreen), message="closed")
