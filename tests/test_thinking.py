"""A reasoning model's thinking told apart from its answer (``core.thinking``), and left
out of what later turns send back to the model."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from tests.helpers import SIZE, drawn, in_log, loaded, put_and_send, reply_finished, wait_until
from tui_chat.core.conversation import Conversation, TurnStatus
from tui_chat.core.paths import UserPaths
from tui_chat.core.script import Hold, Say, Script, says, tokens
from tui_chat.core.store import Store
from tui_chat.core.thinking import Split, ThinkingFilter, split_reply
from tui_chat.core.translation import TranslationRequest, reply_budget
from tui_chat.service.llm_service import LlmService
from tui_chat.service.translation import TranslationJob
from tui_chat.ui.app import ChatApp
from tui_chat.ui.widgets.earlier_reply import EarlierReply
from tui_chat.ui.widgets.reply import Reply


@pytest.mark.parametrize(
    ("text", "split"),
    [
        ("<think>\nWhat is 2+2?\n</think>\n\nIt is 4.", Split("What is 2+2?", "It is 4.")),
        ("  <think>plan</think>Answer", Split("plan", "Answer")),
        ("<|START_THINKING|>a<|END_THINKING|>b", Split("a", "b")),
        ("[THINK]a[/THINK]b", Split("a", "b")),
        ("<seed:think>a</seed:think>b", Split("a", "b")),
        ("<think>still going", Split("still going", "", unfinished=True)),
        # gpt-oss: the analysis channel, then the final one; or the final one alone.
        (
            "<|channel|>analysis<|message|>Greet.<|end|><|start|>assistant"
            "<|channel|>final<|message|>Hello!",
            Split("Greet.", "Hello!"),
        ),
        ("<|channel|>final<|message|>Hello!", Split("", "Hello!")),
        # Granite: the answer wrapped after the thinking, and only then.
        ("<think>Greet.</think><response>Hello!</response>", Split("Greet.", "Hello!")),
        ("<response>as written</response>", Split("", "<response>as written</response>")),
        ("opened by the template\n</think>\n\nAnswer.", Split("opened by the template", "Answer.")),
        ("Plain answer.", Split("", "Plain answer.")),
        # An answer that writes a marker is an answer: not at the start, after code.
        ("Use `<think>` tags.", Split("", "Use `<think>` tags.")),
        ("```html\n</think>\n```", Split("", "```html\n</think>\n```")),
        ("</think>Answer", Split("", "</think>Answer")),
    ],
)
def test_thinking_is_told_apart_from_the_answer(text: str, split: Split) -> None:
    assert split_reply(text) == split


def test_later_turns_send_the_answers_back_not_the_thinking() -> None:
    conversation = Conversation(system_prompt="Be brief.")
    conversation.add_user("2+2?")
    reply = conversation.start_reply()
    reply.parts += ["<think>Two and ", "two.</think>", "\n\nFour."]
    reply.status = TurnStatus.COMPLETE
    conversation.add_user("And 3+3?")
    assert [(m.role, m.content) for m in conversation.messages_for()] == [
        ("system", "Be brief."),
        ("user", "2+2?"),
        ("assistant", "Four."),
        ("user", "And 3+3?"),
    ]
    assert reply.text.startswith("<think>"), "the reply itself keeps what the model wrote"


async def test_a_reply_that_thinks_is_not_sent_back_whole(make_app: object) -> None:
    """On the scripted model: the next request carries the answer alone."""
    script = Script(default=says("<think>Let me see.</think>\n\nHello there."))
    app = make_app(script=script)  # type: ignore[operator]
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Hi?")
        turn = await reply_finished(app)
        assert turn.text == "<think>Let me see.</think>\n\nHello there."
        sent = app.main.chat.conversation.messages_for()
        assert [m.content for m in sent if m.role == "assistant"] == ["Hello there."]


REPLIES = [
    "<think>\nPlan: say hi.\n</think>\n\nHello there, friend.",
    "  [THINK]a[/THINK] b c",
    "Plain answer, no thinking.",
    "<th",  # a reply that only looks like a marker's start
    "<think>cut short",
    "<|channel|>analysis<|message|>Greet.<|end|><|start|>assistant<|channel|>final<|message|>Hi!",
    "<|channel|>final<|message|>Hi!",
    "<think>Greet.</think>\n<response>Hi!</response>\n",
    "<think>x</think> <res",  # an answer that only looks like a wrapper's start
]


@pytest.mark.parametrize("reply", REPLIES)
def test_a_streamed_reply_passes_its_answer_however_it_is_cut(reply: str) -> None:
    """Its thinking and its answer, no marker in either: every way to cut the reply in
    two pieces, and one character at a time."""
    told = split_reply(reply)
    expected = told.answer if reply != "<th" else "<th"
    cuts = [[reply[:n], reply[n:]] for n in range(len(reply) + 1)] + [list(reply)]
    for pieces in cuts:
        thinking = ThinkingFilter()
        said = [thinking.split(p) for p in pieces]
        out = "".join(answer for _, answer in said) + thinking.finish()
        assert out == expected, pieces
        assert "".join(thought for thought, _ in said).strip() == told.thinking, pieces


async def test_a_translation_leaves_the_thinking_out(
    start_service: Callable[..., LlmService],
) -> None:
    service = start_service(script=Script(default=says("<think>French, then.</think>\n\nBonjour.")))
    pieces: list[str] = []
    result = await TranslationJob(
        service, "Good morning.", TranslationRequest(target="French"), pieces.append
    ).run()
    assert result.text == "Bonjour."
    assert "".join(pieces) == "Bonjour."


async def test_a_translation_s_length_limit_is_for_its_answer_not_the_thinking(
    start_service: Callable[..., LlmService],
) -> None:
    thought = "Hmm. " * reply_budget(4)
    service = start_service(script=Script(default=says(f"<think>{thought}</think>Bonjour.")))
    result = await TranslationJob(
        service, "Good morning.", TranslationRequest(target="French"), lambda _text: None
    ).run()
    assert (result.text, result.failed) == ("Bonjour.", [])


async def test_a_reply_that_thinks_is_saved_apart_and_read_back_as_its_answer(
    make_app: Callable[..., ChatApp], paths: UserPaths
) -> None:
    """The store keeps the thinking beside the answer; a conversation opened again sends
    the answer, even one that writes a marker itself."""
    script = Script(default=says("<think>Let me see.</think>\n\nUse a </think> tag."))
    app = make_app(script=script)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Hi?")
        await reply_finished(app)
        conversation_id = app.main.chat.conversation.id
    app.store.close_now()
    store = Store.open(paths.store)
    stored = store.load(conversation_id)
    store.close()
    assert stored is not None
    reply = stored.messages[-1]
    assert (reply.text, reply.thinking, reply.status) == (
        "Use a </think> tag.",
        "Let me see.",
        "complete",
    )
    again = Conversation.from_stored(stored)
    assert again.messages_for()[-1].content == "Use a </think> tag."


THOUGHT = "<think>First the greeting, then the weather.</think>"
HARMONY = (  # gpt-oss
    "<|channel|>analysis<|message|>First the greeting, then the weather.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>"
)


def thinks(thought: str = THOUGHT) -> Script:
    return Script(
        default=(
            Say(tokens(thought), every=0.0),
            Say(tokens("\n\nHello! It is sunny."), every=0.0),
        )
    )


async def _thought(app: ChatApp, pilot: Pilot[None]) -> Reply:
    """The reply to a message, once shown whole."""
    await loaded(app)
    await put_and_send(app, pilot, "Hi?")
    await reply_finished(app)
    reply = in_log(app, Reply)[-1]
    await wait_until(lambda: reply.finished, message="shown whole")
    return reply


@pytest.mark.parametrize("thought", [THOUGHT, HARMONY], ids=["think", "harmony"])
async def test_the_thinking_streams_folded_above_the_answer_and_a_click_unfolds_it(
    make_app: Callable[..., ChatApp], thought: str
) -> None:
    app = make_app(script=thinks(thought))
    async with app.run_test(size=SIZE) as pilot:
        reply = await _thought(app, pilot)
        await pilot.pause()
        spent = len(tokens(thought))
        assert reply.thinking_line == f"▸ Thought for {spent} tokens — click to show"
        assert reply.source == "Hello! It is sunny.", "the answer alone as Markdown"
        assert reply.thought == "First the greeting, then the weather."
        shown = drawn(app)
        assert "Thought for" in shown
        assert "greeting" not in shown, "folded"
        await pilot.click(reply, offset=(3, 0))
        await wait_until(lambda: "greeting" in drawn(app), message="unfolded")
        assert reply.thinking_line.startswith("▾ Thought for")
        await pilot.click(reply, offset=(3, 0))
        await wait_until(lambda: "greeting" not in drawn(app), message="folded again")


async def test_while_it_thinks_the_line_says_so_and_the_answer_waits(
    make_app: Callable[..., ChatApp],
) -> None:
    script = Script(default=(Say(tokens("<think>Hmm, let me think about it.")), Hold()))
    app = make_app(script=script)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "Hi?")
        reply = in_log(app, Reply)[-1]
        await wait_until(lambda: "Thinking…" in reply.thinking_line, message="thinking")
        await wait_until(lambda: "(6 words)" in reply.thinking_line, message="all of it")
        assert reply.source == ""
        await pilot.press("escape")
        await reply_finished(app)


async def test_show_thinking_hide_shows_no_line(make_app: Callable[..., ChatApp]) -> None:
    app = make_app(script=thinks(), show_thinking="hide")
    async with app.run_test(size=SIZE) as pilot:
        reply = await _thought(app, pilot)
        await pilot.pause()
        assert reply.thinking_line == ""
        assert "Thought" not in drawn(app)
        assert "Hello! It is sunny." in drawn(app)


async def test_a_reply_read_back_folds_its_saved_thinking_too(
    make_app: Callable[..., ChatApp],
) -> None:
    first = make_app(script=thinks())
    async with first.run_test(size=SIZE) as pilot:
        await loaded(first)
        await put_and_send(first, pilot, "Hi?")
        await reply_finished(first)
        conversation_id = first.main.chat.conversation.id
    first.store.close_now()
    for hide in (False, True):
        app = make_app(
            script=thinks(),
            open_conversation=conversation_id,
            show_thinking="hide" if hide else "fold",
        )
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(lambda a=app: in_log(a, EarlierReply), message="read back")
            earlier = in_log(app, EarlierReply)[-1]
            await pilot.pause()
            if hide:
                assert earlier.thinking_line == ""
                assert "Thought" not in drawn(app)
                continue
            assert earlier.thinking_line == "▸ Thought first — click to show"
            assert "greeting" not in drawn(app)
            await pilot.click(earlier, offset=(3, 0))
            await wait_until(lambda a=app: "First the greeting" in drawn(a), message="unfolded")
        app.store.close_now()


async def test_the_palette_s_command_unfolds_the_newest_thinking(
    make_app: Callable[..., ChatApp],
) -> None:
    app = make_app(script=thinks())
    async with app.run_test(size=SIZE) as pilot:
        reply = await _thought(app, pilot)
        app.main.chat.action_toggle_thinking()
        assert reply.thought_shown
        await wait_until(lambda: "First the greeting" in drawn(app), message="unfolded")
        app.main.chat.action_toggle_thinking()
        assert not reply.thought_shown


async def test_t_in_the_log_unfolds_the_thinking_and_types_a_t_in_the_input(
    make_app: Callable[..., ChatApp],
) -> None:
    app = make_app(script=thinks())
    async with app.run_test(size=SIZE) as pilot:
        reply = await _thought(app, pilot)
        await pilot.press("t")
        assert not reply.thought_shown, "typed into the message, not taken as a key"
        assert app.main.chat.input.text == "t"
        app.main.chat.chat_log.focus()
        await pilot.press("t")
        await wait_until(lambda: reply.thought_shown, message="unfolded by t")
