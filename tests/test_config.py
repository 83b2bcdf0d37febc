"""The settings file: every kind of mistake is a clear message and exit status 2."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import every_setting
from tui_chat.commands import chat
from tui_chat.commands.common import model_settings
from tui_chat.core import config
from tui_chat.core.paths import user_paths
from tui_chat.core.settings import Settings, settings_from

TUI_CHAT = str(Path(sys.executable).with_name("tui-chat"))


@pytest.fixture
def config_file(home: Path) -> Path:
    path = config.config_path(user_paths().config)
    path.parent.mkdir(parents=True)
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TUI_CHAT, *args], capture_output=True, text=True, timeout=60)


def test_config_path_is_printed_and_lives_under_tui_chat_home(home: Path) -> None:
    result = run("--config-path")
    assert result.returncode == 0
    assert result.stdout.strip() == str(home / "config" / "config.toml")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ctx = ", "not valid TOML"),
        ("colour = 'blue'", "unknown setting 'colour'"),
        ("ctx = 'big'", "ctx: must be a whole number, got a string 'big'"),
        ("temperature = 'hot'", "temperature: must be a number"),
        ("max_tokens = 0", "max_tokens: must be 1 or more, got 0"),
        ("top_p = 1.5", "top_p: must be in (0.0, 1.0], got 1.5"),
        ("threads = true", "threads: must be a whole number, got a bool"),
        (
            "translation_prompt = 'Translate.'",
            "translation_prompt: must contain {target} and {text}",
        ),
    ],
)
def test_a_bad_settings_file_names_file_key_and_problem(
    config_file: Path, content: str, message: str
) -> None:
    config_file.write_text(content + "\n")
    result = run("--list")
    assert result.returncode == 2
    assert str(config_file) in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_command_line_options_override_the_file(config_file: Path, model_path: Path) -> None:
    config_file.write_text("max_tokens = 5\ntemperature = 0.7\nctx = 1024\nsystem_prompt = 'Hi'\n")
    values = config.load(config_file)
    args = chat.build_parser().parse_args(["--max-tokens", "7"])
    settings = model_settings(args, values)
    assert settings is not None
    assert settings.max_tokens == 7  # the option wins
    assert settings.sampling.temperature == 0.7  # the file fills the rest
    assert settings.n_ctx == 1024
    assert settings.system_prompt == "Hi"
    assert settings.model == model_path


def test_the_file_can_name_the_model(config_file: Path, tmp_path: Path) -> None:
    config_file.write_text(f"model = '{tmp_path / 'mine.gguf'}'\n")
    result = run()
    assert result.returncode == 2
    assert "mine.gguf" in result.stderr


def test_save_writes_atomically_and_round_trips(config_file: Path) -> None:
    values: dict[str, config.Value] = {
        "system_prompt": 'Say "hi".\nTwo lines, a \\ and a tab\t.',
        "temperature": 0.3,
        "ctx": 2048,
        "translation_language": "Japanese",
    }
    config.save(config_file, values)
    assert config.load(config_file) == values
    assert tomllib.loads(config_file.read_text()) == values
    assert [p.name for p in config_file.parent.iterdir()] == ["config.toml"]
    with pytest.raises(config.ConfigError, match="max_tokens"):
        config.save(config_file, {**values, "max_tokens": -3})
    assert config.load(config_file) == values, "a refused save changed the file"


def test_save_that_cannot_write_leaves_the_old_file(tmp_path: Path) -> None:
    blocker = tmp_path / "config"
    blocker.write_text("not a folder")
    with pytest.raises(config.ConfigError, match="cannot be written"):
        config.save(blocker / "config.toml", {"ctx": 1})
    assert blocker.read_text() == "not a folder"


def test_parser_defaults_leave_room_for_the_file() -> None:
    args = chat.build_parser().parse_args([])
    assert isinstance(args, argparse.Namespace)
    assert all(getattr(args, key) is None for key in chat.APP_SETTINGS)


def test_every_setting_goes_from_the_file_into_settings_and_back(
    config_file: Path, tmp_path: Path
) -> None:
    model = tmp_path / "other.gguf"
    values = every_setting(model)
    assert values.keys() == config.OPTIONS.keys(), "a setting is missing from this test"
    assert all(values[key] != default for key, default in Settings(model=Path()).values().items())
    config.save(config_file, values)
    settings = settings_from(model, config.load(config_file))
    assert settings.values() == values
    assert settings.with_values(values) == settings


def test_the_readme_shows_every_setting_and_each_is_valid() -> None:
    """The README's example settings file is the table of settings, as a user sees it."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = readme.split("### The settings file", 1)[1].split("```toml\n", 1)[1]
    values = tomllib.loads(example.split("```", 1)[0])
    assert sorted(values) == sorted(config.OPTIONS), "the README misses a setting"
    config.check(values, Path("README.md"))


def test_gpu_layers_are_all_or_a_number_and_reach_the_worker_as_llama_cpp_counts(
    config_file: Path,
) -> None:
    config_file.write_text('gpu_layers = 20\nflash_attn = "on"\ncache_type = "q4_0"\n')
    values = config.load(config_file)
    assert values == {"gpu_layers": "20", "flash_attn": "on", "cache_type": "q4_0"}
    command = settings_from(Path("m.gguf"), values).load_command()
    assert (command.gpu_layers, command.flash_attn, command.cache_type) == (20, True, "q4_0")
    default = Settings(model=Path("m.gguf")).load_command()
    assert (default.gpu_layers, default.flash_attn, default.cache_type) == (-1, False, "f16")
    assert settings_from(Path("m.gguf"), {"gpu_layers": "ALL"}).load_command().gpu_layers == -1
    for wrong, said in (
        ('gpu_layers = "most"', "gpu_layers: must be all or a number of layers"),
        ("gpu_layers = -2", "gpu_layers: must be all or a number of layers"),
        ('cache_type = "q2_k"', "cache_type: must be one of f16, q8_0, q4_0"),
        ('flash_attn = "yes"', "flash_attn: must be one of on, off"),
    ):
        config_file.write_text(wrong + "\n")
        with pytest.raises(config.ConfigError, match=said):
            config.load(config_file)


def test_gpu_options_on_the_command_line_are_checked_as_the_file_checks_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = chat.build_parser().parse_args(["--gpu-layers", "all", "--cache-type", "q8_0"])
    assert (args.gpu_layers, args.cache_type) == ("all", "q8_0")
    with pytest.raises(SystemExit):
        chat.build_parser().parse_args(["--gpu-layers", "lots"])
    assert "must be all or a number of layers" in capsys.readouterr().err
