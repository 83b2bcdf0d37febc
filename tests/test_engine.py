"""The engine in this process, on the real bundled model with greedy decoding. No test
here expects the model's words: they differ between CPUs and llama.cpp builds."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

import pytest

from tests.conftest import GREEDY
from tui_chat.core.protocol import ChatMessage, DoneReason, Generate, LoadModel
from tui_chat.worker import engine as engine_module
from tui_chat.worker.engine import Engine, GenerationResult, RequestError, Utf8Pieces


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[Engine]:
    engine = Engine.load(LoadModel(str(model_path), 1024, 2, 1), lambda _f: None)
    yield engine
    engine.close()


def run(engine: Engine, text: str, max_tokens: int = 48) -> tuple[list[str], GenerationResult]:
    pieces: list[str] = []
    request = Generate(1, (ChatMessage("user", text),), max_tokens, GREEDY)
    result = engine.generate(request, pieces.append, lambda _done, _total: None)
    return pieces, result


def test_model_reports_its_metadata(engine: Engine) -> None:
    info = engine.info()
    assert info.n_ctx == 1024
    assert info.name == "SmolLM2-135M-Instruct.Q4_1"
    # What the UI does not need goes to the worker's log.
    described = engine.describe()
    assert "context 1024 tokens (trained with 8192)" in described
    assert "chat template gguf" in described


def test_tokens_do_split_characters_and_pieces_put_them_back(engine: Engine) -> None:
    llm = engine._llm
    text = "🙂 日本語 Привет 👍🏽"
    token_bytes = [llm.detokenize([t]) for t in llm.tokenize(text.encode(), add_bos=False)]
    assert any(_broken(b) for b in token_bytes), "expected a token that splits a character"
    pieces = Utf8Pieces()
    out = [pieces.feed(b) for b in token_bytes] + [pieces.flush()]
    assert "".join(out) == text
    assert not any("\ufffd" in piece for piece in out)


def _broken(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def test_characters_split_across_tokens_stream_whole(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Emoji and CJK that span tokens arrive whole."""
    llm = engine._llm
    text = "🙂 日本語 Привет 👍🏽"
    chosen = [*llm.tokenize(text.encode(), add_bos=False), llm.token_eos()]
    choose_tokens(monkeypatch, engine, chosen)
    pieces, result = run(engine, "Reply with emoji.")
    assert "".join(pieces) == text
    assert not any("\ufffd" in piece for piece in pieces)
    assert result.reason is DoneReason.FINISHED
    assert result.usage.completion_tokens == len(chosen) - 1


def test_greedy_decoding_gives_the_same_reply_every_time(engine: Engine) -> None:
    engine.clear()
    first, _ = run(engine, "Name three colours.")
    engine.clear()
    second, _ = run(engine, "Name three colours.")
    assert "".join(first) == "".join(second)
    assert "".join(first).strip()


def choose_tokens(monkeypatch: pytest.MonkeyPatch, engine: Engine, chosen: list[int]) -> None:
    """The model "generates" ``chosen``: the engine's own path from tokens to text and to
    the reply's end, fed tokens chosen here (what the model would choose differs between
    machines)."""

    def generate(*_args: object, **_kwargs: object) -> Iterator[int]:
        yield from chosen

    monkeypatch.setattr(engine._llm, "generate", generate)


def test_max_tokens_is_counted_by_the_engine(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = engine._llm
    chosen = llm.tokenize(b" one two three four five six seven eight", add_bos=False)
    choose_tokens(monkeypatch, engine, chosen)
    pieces, result = run(engine, "Count.", max_tokens=5)
    assert result.reason is DoneReason.LENGTH
    assert result.usage.completion_tokens == 5
    assert "".join(pieces) == llm.detokenize(chosen[:5]).decode()


def test_the_control_tokens_that_mark_thinking_are_written_into_the_reply(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gpt-oss writes its channels (and Command R7B, Magistral their thinking) with
    control tokens, which llama.cpp leaves out of text: the markers' own are written, no
    other. The bundled model has none of theirs: one of its own stands in for them."""
    llm = engine._llm
    marker = llm.tokenize(b"<repo_name>", add_bos=False, special=True)
    other = llm.tokenize(b"<|im_start|>", add_bos=False, special=True)
    assert engine._prompt.control_tokens(["<repo_name>Hello", "<think>"]) == set(marker)
    monkeypatch.setattr(engine, "_markers", engine._prompt.control_tokens(["<repo_name>"]))
    choose_tokens(monkeypatch, engine, marker + llm.tokenize(b"Hello", add_bos=False) + other)
    pieces, _ = run(engine, "Hi.")
    assert "".join(pieces) == "<repo_name>Hello"


def test_the_length_limit_is_for_the_answer_and_thinking_the_template_opened_is_written(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prompt that ends with ``<think>`` (DeepSeek-R1's template): the reply's text
    opens the thinking too, and its tokens are counted apart from the answer's, which
    alone the length limit is for."""
    llm = engine._llm
    prompt_tokens = engine.prompt_tokens

    def opening(messages: Sequence[ChatMessage], continues: bool = False) -> list[int]:
        return prompt_tokens(messages, continues) + llm.tokenize(b"<think>\n", add_bos=False)

    monkeypatch.setattr(engine, "prompt_tokens", opening)
    thought = llm.tokenize(b"one two three four five six</think>", add_bos=False)
    answer = llm.tokenize(b" seven eight nine ten", add_bos=False)
    choose_tokens(monkeypatch, engine, thought + answer)
    pieces, result = run(engine, "Count.", max_tokens=2)
    assert "".join(pieces) == "<think>" + llm.detokenize(thought + answer[:2]).decode()
    assert result.reason is DoneReason.LENGTH
    assert result.usage.thinking_tokens == len(thought)
    assert result.usage.completion_tokens == len(thought) + 2


def test_a_reply_that_goes_on_is_in_the_prompt_where_a_reply_begins(engine: Engine) -> None:
    """The template renders the conversation up to where the model's reply begins; the
    reply so far follows, and the model writes what comes next."""
    llm = engine._llm
    asked = (ChatMessage("user", "Count to ten."),)
    started = (*asked, ChatMessage("assistant", "One, two,"))
    prompt = llm.detokenize(engine.prompt_tokens(started, continues=True), special=True)
    assert prompt == llm.detokenize(engine.prompt_tokens(asked), special=True) + b"One, two,"
    engine.clear()
    pieces: list[str] = []
    request = Generate(1, started, 4, GREEDY, continues=True)
    result = engine.generate(request, pieces.append, lambda _done, _total: None)
    assert result.reason in (DoneReason.LENGTH, DoneReason.FINISHED)
    assert 0 < result.usage.completion_tokens <= 4
    assert result.usage.prompt_tokens == len(engine.prompt_tokens(started, continues=True))


def test_next_turn_reuses_the_prompt_and_clear_forgets_it(engine: Engine) -> None:
    engine.clear()
    run(engine, "Hello there.")
    _, again = run(engine, "Hello there.")
    assert again.usage.cached_tokens > 0
    engine.clear()
    _, fresh = run(engine, "Hello there.")
    assert fresh.usage.cached_tokens == 0


def test_a_single_message_longer_than_the_context_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(RequestError) as info:
        run(engine, "word " * 2000)
    message = str(info.value)
    assert "the context holds 1024" in message
    assert re.search(r"it takes \d{4} tokens", message)
    assert "--ctx" in message


def _long_chat(turns: int) -> list[ChatMessage]:
    messages = [ChatMessage("system", "You are terse.")]
    for n in range(turns):
        messages.append(ChatMessage("user", f"Question {n}: tell me about boats and rivers."))
        messages.append(ChatMessage("assistant", f"Answer {n}: " + "boats float on rivers. " * 8))
    messages.append(ChatMessage("user", "And the last question?"))
    return messages


def test_a_conversation_too_long_loses_its_oldest_turns_not_the_system_prompt(
    engine: Engine,
) -> None:
    messages = _long_chat(30)
    assert len(engine.prompt_tokens(messages)) > 1024
    request = Generate(1, tuple(messages), 64, GREEDY, keep=1)
    tokens, dropped = engine.fit(request)
    kept = [messages[0], *messages[1 + dropped :]]
    assert tokens == engine.prompt_tokens(kept)
    assert dropped > 0
    assert kept[1].role == "user", "the prompt must start with a person's message"
    assert kept[-1].content == "And the last question?"
    # Room for the reply, and a quarter of the context to spare for the next turns.
    assert len(tokens) + 64 <= 1024 - 1024 // 4
    trimmed: list[int] = []
    result = engine.generate(request, lambda _t: None, lambda _d, _n: None, trimmed.append)
    assert trimmed == [dropped]
    assert result.usage.completion_tokens > 0


def test_a_conversation_that_fits_is_not_trimmed(engine: Engine) -> None:
    messages = _long_chat(2)
    tokens, dropped = engine.fit(Generate(1, tuple(messages), 64, GREEDY, keep=1))
    assert dropped == 0
    assert tokens == engine.prompt_tokens(messages)


def test_the_next_turn_renders_the_history_with_the_same_prefix(engine: Engine) -> None:
    engine.clear()
    first = [ChatMessage("user", "Name a fruit.")]
    pieces: list[str] = []
    one = engine.generate(Generate(1, tuple(first), 32, GREEDY), pieces.append, lambda _d, _n: None)
    second = [*first, ChatMessage("assistant", "".join(pieces)), ChatMessage("user", "Another?")]
    two = engine.generate(
        Generate(2, tuple(second), 8, GREEDY), lambda _t: None, lambda _d, _n: None
    )
    # All of the first prompt is reused (and of the reply, what tokenizes again the same).
    assert two.usage.cached_tokens >= one.usage.prompt_tokens


def test_llama_cpp_watches_the_stop_flag_without_running_python(engine: Engine) -> None:
    """llama.cpp polls the abort callback once per graph node (~600 times for a short
    prompt) while its other threads wait: a Python callback cost 2-6 ms per prompt read.
    The flag is polled by C code: no tui-chat Python runs while llama.cpp computes."""
    tokens = engine.prompt_tokens([ChatMessage("user", "Write a story about a dragon.")])
    ours = str(Path(engine_module.__file__).parent.parent)
    calls: list[str] = []

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(ours):
            calls.append(frame.f_code.co_name)

    engine._set_abort_callback(True)
    engine.clear()
    sys.setprofile(profile)
    try:
        engine._llm.eval(tokens)
    finally:
        sys.setprofile(None)
        engine._set_abort_callback(False)
    assert calls == []


def test_the_stop_flag_aborts_llama_cpp_and_clears_for_the_next_reply(engine: Engine) -> None:
    tokens = engine.prompt_tokens([ChatMessage("user", "Write a story about a dragon.")])
    engine._set_abort_callback(True)
    try:
        engine.stop_event.set()
        engine.clear()
        with pytest.raises(RuntimeError, match="llama_decode returned 2"):
            engine._llm.eval(tokens)
        engine.stop_event.clear()
        engine.clear()
        engine._llm.eval(tokens)  # no longer aborted
    finally:
        engine._set_abort_callback(False)
    _pieces, result = run(engine, "Say hi.", max_tokens=4)
    assert result.reason in (DoneReason.FINISHED, DoneReason.LENGTH), "still aborted"


@pytest.mark.parametrize("amx", [True, False])
def test_weight_repacking_is_off_only_where_the_cpu_advertises_amx(
    monkeypatch: pytest.MonkeyPatch, amx: bool
) -> None:
    """A CPU that advertises AMX without running it kills every batch at ``ldtilecfg``."""
    import llama_cpp.llama_cpp as llama_lib

    from tui_chat.worker import llama_hooks

    monkeypatch.setattr(llama_hooks, "cpu_has_amx", lambda: amx)
    with llama_hooks.load_progress(lambda _progress: None):
        params = llama_lib.llama_model_default_params()
    assert params.use_extra_bufts is not amx
    assert llama_lib.llama_model_default_params().use_extra_bufts, "as it was after the load"


@pytest.mark.parametrize("turns", [5, 30, 200])
def test_the_real_template_trims_as_one_at_a_time_did(engine: Engine, turns: int) -> None:
    """The search from the newest end, with the model's own template and tokenizer."""
    from tests.test_fitting import one_at_a_time

    request = Generate(1, tuple(_long_chat(turns)), 64, GREEDY, keep=1)
    kept, dropped = one_at_a_time(request, 1024, lambda m: len(engine.prompt_tokens(m)))
    tokens, got = engine.fit(request)
    assert got == dropped
    assert tokens == engine.prompt_tokens(kept)


def test_a_conversation_left_goes_on_from_its_kept_state(model_path: Path, tmp_path: Path) -> None:
    """Leaving a conversation keeps the model's state on disk; another engine (tui-chat
    started again, --continue) restores it and reads only what is new; another context
    size is another model's cache, read whole."""
    command = LoadModel(
        str(model_path), 1024, 2, 1, resume_cache=str(tmp_path), resume_cache_bytes=10**9
    )
    history = (ChatMessage("user", "Tell me about the sea and its tides. " * 12),)

    def reply(
        command: LoadModel, messages: tuple[ChatMessage, ...]
    ) -> tuple[str, Engine, GenerationResult]:
        engine = Engine.load(command, lambda _f: None)
        pieces: list[str] = []
        result = engine.generate(
            Generate(1, messages, 12, GREEDY), pieces.append, lambda _d, _t: None
        )
        return "".join(pieces), engine, result

    said, first, result = reply(command, history)
    assert not list(tmp_path.glob("*/*.state")), "nothing is written while the chat goes on"
    first.clear()  # the person opens another conversation
    first.close()
    assert len(list(tmp_path.glob("*/*.state"))) == 1, "kept when the person left it"
    follow = (*history, ChatMessage("assistant", said), ChatMessage("user", "And rivers?"))
    _, second, resumed = reply(command, follow)
    second.close()
    assert resumed.usage.cached_tokens >= result.usage.prompt_tokens
    assert resumed.usage.completion_tokens > 0
    assert resumed.usage.cached_tokens + 20 > resumed.usage.prompt_tokens, "only the new is read"
    _, third, other = reply(replace(command, n_ctx=2048), follow)
    third.close()
    assert other.usage.cached_tokens == 0


def test_where_the_model_runs_is_what_llama_cpp_reports(engine: Engine) -> None:
    """This build of llama.cpp cannot offload: all runs on the CPU, said as such, with no
    note (``all``, the default, asks for nothing a CPU build must refuse)."""
    import llama_cpp.llama_cpp as llama_lib

    info = engine.info()
    if llama_lib.llama_supports_gpu_offload():  # pragma: no cover (no GPU build here)
        assert info.placement.startswith("GPU ")
    else:
        assert info.placement == "CPU"
    assert info.note == ""
    assert f", {info.placement}, " in engine.describe()


def _gpu_build(monkeypatch: pytest.MonkeyPatch, fits: int) -> list[dict[str, object]]:
    """This CPU build, as a GPU build would behave with room for ``fits`` layers: what
    each load asked ``Llama`` for is kept."""
    import llama_cpp
    import llama_cpp.llama_cpp as llama_lib

    calls: list[dict[str, object]] = []
    real = llama_cpp.Llama

    def llama(**kwargs: object) -> llama_cpp.Llama:
        calls.append(kwargs)
        layers = kwargs["n_gpu_layers"]
        assert isinstance(layers, int)
        if layers == -1 or layers > fits:
            raise ValueError("Failed to load model from file")  # as llama-cpp-python says
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(llama_lib, "llama_supports_gpu_offload", lambda: True)
    monkeypatch.setattr(engine_module.llama_cpp, "Llama", llama)
    return calls


def test_a_gpu_build_is_asked_for_the_layers_and_options_chosen(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp.llama_cpp as llama_lib

    calls = _gpu_build(monkeypatch, fits=100)
    command = LoadModel(str(model_path), 512, 2, gpu_layers=20, flash_attn=True, cache_type="q8_0")
    engine = Engine.load(command, lambda _f: None)
    try:
        assert len(calls) == 1
        asked = calls[0]
        assert asked["n_gpu_layers"] == 20
        assert asked["flash_attn"] is True
        assert asked["type_k"] == asked["type_v"] == llama_lib.GGML_TYPE_Q8_0
        assert engine.info().note == ""
        _pieces, result = run(engine, "Say hi.", max_tokens=4)
        assert result.usage.completion_tokens >= 1, "the quantized cache generates"
    finally:
        engine.close()


def test_layers_that_do_not_fit_in_the_gpu_fall_back_and_say_so(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SmolLM2-135M has 30 layers and the output layer: 15 fails, 7 loads."""
    calls = _gpu_build(monkeypatch, fits=10)
    engine = Engine.load(LoadModel(str(model_path), 512, 2), lambda _f: None)
    try:
        assert [c["n_gpu_layers"] for c in calls] == [-1, 15, 7], "halves of what the file says"
        note = engine.info().note
        assert "did not load with all layers on the GPU" in note
        # This build offloads nothing, whatever it was asked: llama.cpp says so.
        assert engine.info().placement == "CPU"
    finally:
        engine.close()


def test_a_quantized_cache_without_flash_attention_is_refused_in_words(model_path: Path) -> None:
    command = LoadModel(str(model_path), 512, 2, cache_type="q4_0")
    with pytest.raises(engine_module.LoadError, match="q4_0 needs flash attention"):
        Engine.load(command, lambda _f: None)


def test_gpu_layers_asked_of_a_cpu_build_are_ignored_and_said_to_be(model_path: Path) -> None:
    import llama_cpp.llama_cpp as llama_lib

    if llama_lib.llama_supports_gpu_offload():  # pragma: no cover (no GPU build here)
        pytest.skip("a GPU build offloads them")
    engine = Engine.load(LoadModel(str(model_path), 512, 2, gpu_layers=8), lambda _f: None)
    try:
        assert engine.info().placement == "CPU"
        assert "built for the CPU only: gpu_layers is ignored" in engine.info().note
    finally:
        engine.close()
