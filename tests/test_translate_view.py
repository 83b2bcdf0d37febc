"""The Translate view, headless (Pilot), with the real worker playing a scripted model
that "translates" by saying the text back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from textual import events
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from tests.helpers import SIZE, echo, loaded, put_and_send, reply_finished, wait_until
from tui_chat.core.conversation import TurnStatus
from tui_chat.core.protocol import ChatMessage, DoneReason
from tui_chat.core.script import Hold, Say
from tui_chat.ui.app import ChatApp
from tui_chat.ui.screens.dialogs import AskText
from tui_chat.ui.translate_view import TranslateView

PASTE = "Good morning, my friend.\n\nThe train leaves at 9:30 from platform 4.\nSee you there."


MakeApp = Callable[..., ChatApp]
ECHO = echo(every=0.02)


async def open_translate(app: ChatApp, pilot: Pilot[None]) -> TranslateView:
    await pilot.press("ctrl+t")
    await wait_until(lambda: app.main.current_view == "translate")
    view = app.main.translate
    await wait_until(lambda: view.source.has_focus, message="source pane focused")
    return view


async def paste(app: ChatApp, text: str) -> None:
    # As the terminal driver does: the app forwards a paste to the focused widget.
    app.post_message(events.Paste(text))


async def test_only_the_chosen_view_is_shown(make_app: MakeApp) -> None:
    app = make_app(script=ECHO)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.main.translate.is_attached, message="Translate view mounted")
        await pilot.pause()
        chat, translate = app.main.chat, app.main.translate
        assert chat.display
        assert not translate.display
        assert not translate.region, "the Translate view takes room on the Chat view"
        await open_translate(app, pilot)
        assert translate.display
        assert not chat.display
        await pilot.press("ctrl+t")
        await wait_until(lambda: chat.display and not translate.display)


async def test_paste_translate_and_the_output_streams(make_app: MakeApp) -> None:
    shown: list[str] = []

    def hook(message: Message) -> None:
        if isinstance(message, TextArea.Changed) and message.text_area.id == "output":
            shown.append(message.text_area.text)

    # Slow enough that the screen is updated several times, however busy the machine.
    app = make_app(script=echo(every=0.1))
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await loaded(app)
        view = await open_translate(app, pilot)
        await paste(app, PASTE)
        await wait_until(lambda: view.source.text == PASTE, message="paste")
        app.main.query_one("#target-other", Input).value = "French"
        await pilot.press("ctrl+g")
        await wait_until(lambda: view.running, message="translation started")
        await wait_until(lambda: not view.running, message="translation done")
        result = view.last_result
        assert result is not None
        assert result.reason is DoneReason.FINISHED
        assert view.output.text == result.text == PASTE
        assert len([text for text in shown if text]) > 1, "the output did not stream"
        assert all(PASTE.startswith(text) for text in shown), "the output grew in order"
        status = str(app.main.query_one("#translate-status").render())
        assert status.startswith("Done")
        # The choice of language is remembered when coming back to the view.
        await pilot.press("ctrl+t", "ctrl+t")
        assert view.target_language == "French"


async def test_escape_stops_the_translation_and_keeps_the_output(make_app: MakeApp) -> None:
    app = make_app(script=ECHO)
    text = "\n\n".join(f"Paragraph {n} is about boats and the sea." for n in range(30))
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        view = await open_translate(app, pilot)
        await paste(app, text)
        await wait_until(lambda: view.source.text == text, message="paste")
        await pilot.press("ctrl+g")
        await wait_until(lambda: view.output.text.strip(), message="first output")
        await pilot.press("escape")
        await wait_until(lambda: not view.running, message="stopped")
        result = view.last_result
        assert result is not None
        assert result.reason is DoneReason.STOPPED
        assert view.output.text == result.text
        assert view.output.text.strip(), "the output so far was lost"
        assert text.startswith(view.output.text.rstrip())
        assert not app.service.busy


async def test_the_chat_is_untouched_by_a_translation(make_app: MakeApp) -> None:
    app = make_app(script=ECHO)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        await put_and_send(app, pilot, "My name is Zorblax.")
        await reply_finished(app)
        turns_before = [(t.role, t.text, t.status) for t in app.main.chat.conversation.turns]
        view = await open_translate(app, pilot)
        await paste(app, PASTE)
        await wait_until(lambda: view.source.text == PASTE)
        await pilot.press("ctrl+g")
        await wait_until(lambda: view.last_result is not None, message="translation")
        await pilot.press("ctrl+t")
        await wait_until(lambda: app.main.chat.input.has_focus, message="back in the chat")
        turns_after = [(t.role, t.text, t.status) for t in app.main.chat.conversation.turns]
        assert turns_after == turns_before
        await put_and_send(app, pilot, "What is my name?")
        turn = await reply_finished(app)
        assert turn.status is TurnStatus.COMPLETE
        history = app.main.chat.conversation.messages_for(turn)
        assert history[0].content == "My name is Zorblax."
        usage = app.main.status.usage
        assert usage is not None
        # The translation cleared the context, so the whole chat was read again: at most
        # the chat template's own opening (the same for any conversation) was reused.
        empty = await app.service.count_tokens(prompts=[[ChatMessage("user", "")]])
        assert usage.cached_tokens < empty.prompts[0]
        assert usage.prompt_tokens > 30


async def test_copy_and_save_the_translation(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(script=ECHO)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        view = await open_translate(app, pilot)
        await paste(app, "Hello.")
        await pilot.press("ctrl+g")
        await wait_until(lambda: view.last_result is not None, message="translation")
        assert view.output.text == "Hello."
        await pilot.press("ctrl+o")
        assert app.clipboard == "Hello."
        target = tmp_path / "out.txt"
        for attempt in range(2):
            await pilot.press("ctrl+s")
            await wait_until(lambda: isinstance(app.screen, AskText), message="dialog")
            app.screen.query_one(Input).value = str(target)
            await pilot.press("enter")
            await wait_until(lambda: not isinstance(app.screen, AskText), message="saved")
            await pilot.pause()
            if attempt == 0:
                assert target.read_text() == view.output.text
                target.write_text("my own edits")
        assert target.read_text() == "my own edits", "an existing file was overwritten"


async def test_translate_waits_for_a_chat_reply_and_empty_text_is_not_sent(
    make_app: MakeApp,
) -> None:
    # A chat reply that is still running when Ctrl+G comes.
    story = ("story", (Say(("Once",)), Hold()))
    app = make_app(script=replace(ECHO, replies=(story, *ECHO.replies)))
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        view = await open_translate(app, pilot)
        await pilot.press("ctrl+g")
        assert not view.running
        assert view.last_result is None
        await pilot.press("ctrl+t")
        await put_and_send(app, pilot, "Write a long story about a dragon.")
        await wait_until(lambda: app.main.chat.replying)
        await pilot.press("ctrl+t")
        await paste(app, "Hello.")
        await wait_until(lambda: view.source.text == "Hello.")
        await pilot.press("ctrl+g")
        assert app.main.chat.replying
        assert not view.running, "a translation started during a chat reply"
        await pilot.press("escape")
        await reply_finished(app)


async def test_a_200_kb_paste_keeps_typing_and_esc_working(make_app: MakeApp) -> None:
    app = make_app(script=ECHO)
    paragraph = "The quick brown fox jumps over the lazy dog by the river, then rests. " * 6
    text = ((paragraph + "\n\n") * 500)[:200_000]
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        view = await open_translate(app, pilot)
        await paste(app, text)
        await wait_until(lambda: len(view.source.text) == len(text), message="paste")
        await pilot.press("ctrl+g")
        await wait_until(lambda: view.running, message="job started")
        # While the 200 KB are being split and counted, keys still reach the widgets.
        # As the terminal driver delivers a key (Pilot.press would also wait for idle).
        app.post_message(events.Key("exclamation_mark", "!"))
        await wait_until(lambda: view.source.text.endswith("!"), message="typing")
        assert view.running, "the key waited for the job"
        await pilot.press("escape")
        await wait_until(lambda: not view.running, message="stopped")
        assert view.last_result is not None
        assert view.last_result.reason is DoneReason.STOPPED


async def test_a_piece_the_model_does_not_translate_is_shown_as_it_was(make_app: MakeApp) -> None:
    from tests.test_translation import FAILING, PARAGRAPHS

    text = "\n\n".join(PARAGRAPHS)
    app = make_app(script=FAILING, translation_chunk_tokens=16)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(app)
        view = await open_translate(app, pilot)
        await paste(app, text)
        await wait_until(lambda: view.source.text == text, message="paste")
        await pilot.press("ctrl+g")
        await wait_until(lambda: view.last_result is not None, message="translation")
        output = view.output.text.split("\n\n")
        assert output[:2] == PARAGRAPHS[:2], "the piece that looped is there as it was"
        assert output[3] == PARAGRAPHS[3]
        status = str(app.main.query_one("#translate-status").render())
        assert status == (
            "Done (4 chunks). 2 of them not translated whole: cut short at the length limit, "
            "61 tokens for 15; the model repeated the same words over and over. Ctrl+O "
            "copies, Ctrl+S saves."
        )
