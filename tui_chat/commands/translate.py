"""``tui-chat translate``: translate a file or standard input to standard output.

Standard output gets the translation and nothing else, as it streams; progress and
errors go to standard error. Exit status: 0 done, 1 the model failed, 2 bad usage,
130 stopped with Ctrl+C. No worker process outlives the command.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from tui_chat.commands.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    add_setting_options,
    home_problem,
    load_config,
    model_settings,
    prepare_user_files,
)
from tui_chat.core.paths import user_paths
from tui_chat.core.protocol import DoneReason, Error, ErrorKind
from tui_chat.core.translation import (
    DEFAULT_TEMPLATE,
    MAX_CHUNK_TOKENS,
    TemplateError,
    TranslationRequest,
    check_template,
)
from tui_chat.core.visible import visible
from tui_chat.service.events import ServiceEvent, WorkerCrashed
from tui_chat.service.llm_service import LlmService
from tui_chat.service.translation import ChunkFailure, TranslationJob

TRANSLATE_SETTINGS = (
    "model", "server", "server_model", "ctx", "threads", "gpu_layers", "flash_attn",
    "cache_type", "crash_limit", "translation_chunk_tokens",
)  # fmt: skip
"""The settings the command line of ``tui-chat translate`` may override."""


def build_parser() -> argparse.ArgumentParser:
    """The ``tui-chat translate`` command line."""
    parser = argparse.ArgumentParser(
        prog="tui-chat translate",
        description=(
            "Translate a text with the local model, from FILE (or standard input) to "
            "standard output. Long texts are split at paragraph and sentence boundaries "
            "and translated piece by piece, in order."
        ),
        epilog=(
            "Example: cat notes.txt | tui-chat translate --to German > notes.de.txt. "
            "The input is read as UTF-8; bytes that are not valid UTF-8 are replaced "
            "with U+FFFD and a warning goes to standard error. A piece the model does not "
            "translate (it loops, or writes on past the length its source allows) is kept "
            "as it was, and said so. Exit status: 0 done, 1 the model failed (some or all "
            "of it), 2 bad usage or empty input, 130 stopped with Ctrl+C."
        ),
    )
    parser.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="text to translate; - or none: stdin"
    )
    parser.add_argument(
        "--to",
        metavar="LANG",
        help="language to translate into (default: translation_language of the settings file)",
    )
    parser.add_argument(
        "--from",
        dest="source",
        default="",
        metavar="LANG",
        help="language of the text (default: the model works it out)",
    )
    parser.add_argument(
        "--prompt-file",
        metavar="FILE",
        help="your own translation instruction, with {target}, {source} and {text} in it",
    )
    add_setting_options(parser, TRANSLATE_SETTINGS)
    return parser


def _fail(message: str, status: int = EXIT_USAGE) -> int:
    if sys.stderr.isatty():
        message = visible(message)  # it may name a file or quote a model's error
    print(f"tui-chat translate: {message}", file=sys.stderr)
    return status


def read_text(name: str) -> tuple[str, int]:
    """Read the input as UTF-8; returns the text and how many bytes were invalid.

    Raises:
        OSError: The file cannot be read.
    """
    if name == "-":
        if sys.stdin.isatty():
            print("Type or paste the text, then press Ctrl+D.", file=sys.stderr)
        data = sys.stdin.buffer.read()
    else:
        data = Path(name).read_bytes()
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - data.count("\ufffd".encode())
    return text, invalid


def run_translate(argv: Sequence[str]) -> int:
    """Entry point of ``tui-chat translate``; returns the exit status."""
    args = build_parser().parse_args(argv)
    problem = home_problem()
    if problem:
        return _fail(problem)
    values = load_config(user_paths())
    if values is None:
        return EXIT_USAGE
    target = (args.to or str(values.get("translation_language", ""))).strip()
    if not target:
        return _fail("say which language to translate into: --to LANG")
    template = str(values.get("translation_prompt", DEFAULT_TEMPLATE))
    if args.prompt_file:
        try:
            template = Path(args.prompt_file).read_text(encoding="utf-8")
            check_template(template)
        except (OSError, UnicodeDecodeError) as e:
            return _fail(f"cannot read the prompt file {args.prompt_file}: {e}")
        except TemplateError as e:
            return _fail(f"{args.prompt_file}: {e}")
    try:
        text, invalid = read_text(args.file)
    except OSError as e:
        return _fail(f"cannot read {args.file}: {e.strerror or e}")
    if invalid:
        print(
            f"tui-chat translate: {invalid} bytes of the input were not valid UTF-8 "
            "and were replaced with U+FFFD",
            file=sys.stderr,
        )
    if not text.strip():
        return _fail("nothing to translate: the input is empty")
    settings = model_settings(args, values)
    if settings is None:
        return EXIT_USAGE
    settings = replace(settings, translation_template=template)
    paths, log_problem = prepare_user_files()
    if log_problem:
        print(f"tui-chat translate: {log_problem}", file=sys.stderr)
    request = TranslationRequest(target, args.source.strip(), template)
    service = LlmService(settings, paths.worker_log, _report)
    try:
        return asyncio.run(
            _translate(service, text, request, sys.stdout, settings.translation_chunk_tokens)
        )
    except KeyboardInterrupt:
        print("\ntui-chat translate: stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        service.close_now()


def _report(event: ServiceEvent) -> None:
    """Say on standard error what a person running the command must know."""
    match event:
        case Error(kind=ErrorKind.LOAD, message=message):
            print(f"tui-chat translate: {message}", file=sys.stderr)
        case WorkerCrashed():
            print(f"tui-chat translate: {event.notice}", file=sys.stderr)


def terminal_safe(out: TextIO) -> Callable[[str], None]:
    """A writer to ``out``: on a terminal the model's text has its control characters
    made visible (it cannot act on the terminal); into a pipe or file it passes as is."""
    shown = visible if out.isatty() else str

    def write(text: str) -> None:
        out.write(shown(text))
        out.flush()

    return write


async def _translate(
    service: LlmService,
    text: str,
    request: TranslationRequest,
    out: TextIO,
    chunk_tokens: int = MAX_CHUNK_TOKENS,
) -> int:
    on_terminal = out.isatty()
    show_progress = sys.stderr.isatty() and not on_terminal
    emit = terminal_safe(out)
    reader_gone = False

    def write(piece: str) -> None:
        nonlocal reader_gone
        if reader_gone:
            return
        try:
            emit(piece)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as other tools do.
            reader_gone = True
            job.stop()

    def streamed(piece: str) -> None:
        if on_terminal:  # a person reads as it comes; a file gets each chunk once done
            write(piece)

    def chunk_done(output: str, failure: ChunkFailure | None) -> None:
        if not on_terminal:
            write(output)
        elif failure is not None and failure.source_kept:
            # What streamed of it is not a translation: said so, then the text as it was.
            write(f"\n[not translated: {failure.why}; the text as it was:]\n{output}")
        elif failure is not None:
            write(f"{'' if output.endswith(chr(10)) else chr(10)}[{failure.why}]\n")

    def progress(number: int, total: int) -> None:
        if show_progress and total > 1:
            print(f"tui-chat translate: chunk {number} of {total}", file=sys.stderr)

    service.start()
    job = TranslationJob(service, text, request, streamed, progress, chunk_tokens, chunk_done)
    try:
        result = await job.run()
    finally:
        await service.close()
    if reader_gone:
        # Python would complain about the closed pipe again when it flushes at exit.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return EXIT_FAILED
    if result.failed:
        whys = "; ".join(sorted({f.why for f in result.failed}))
        print(
            f"tui-chat translate: {len(result.failed)} of {len(result.chunks)} pieces not "
            f"translated whole: {whys}. A piece that looped is in the output as it was.",
            file=sys.stderr,
        )
    if result.reason is DoneReason.FINISHED:
        return EXIT_FAILED if result.failed else EXIT_OK
    return _fail(result.error or f"the translation {result.reason.value}", EXIT_FAILED)
