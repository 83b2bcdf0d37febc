"""``tui-chat pull REPO[:QUANT|/FILE]``: a GGUF model from the Hugging Face hub, into its
cache (``huggingface_hub``: a file goes into the cache only whole and of the size the hub
gives; a dropped connection is resumed within the pull), then the ``--model`` line to use
it. The only thing in tui-chat that reaches the network."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from tui_chat.commands.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from tui_chat.core.hub_files import DEFAULT_QUANT, PullError, choose_files, parse_wanted
from tui_chat.core.visible import visible


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-chat pull",
        description=(
            "Download a GGUF model from the Hugging Face hub into its cache ($HF_HUB_CACHE, "
            "$HF_HOME; $HF_ENDPOINT for a mirror, $HF_TOKEN for gated models), every part "
            "of a split one, then print the --model option that uses it. Ctrl+C keeps no "
            "half-written file; the next pull fetches what is missing."
        ),
        epilog=(
            f"REPO is OWNER/NAME (the {DEFAULT_QUANT} file), OWNER/NAME:QUANT (Q5_K_M, Q8_0, "
            "…) or OWNER/NAME/FILE.gguf. tui-chat models lists what is already here."
        ),
    )
    parser.add_argument("repo", metavar="REPO[:QUANT|/FILE]", help="what to download")
    parser.add_argument("--revision", default=None, help="a branch, tag or commit (default: main)")
    return parser


def run_pull(argv: Sequence[str]) -> int:
    """Download the model asked for; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        wanted = parse_wanted(args.repo)
    except PullError as e:
        print(f"tui-chat pull: {e}", file=sys.stderr)
        return EXIT_USAGE
    import httpx2  # huggingface_hub's HTTP client: its network errors are its own
    from huggingface_hub import HfApi, constants, hf_hub_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = constants.ENDPOINT
    try:
        files = HfApi().list_repo_files(wanted.repo, revision=args.revision)
        chosen = choose_files(files, wanted)
        names = visible(", ".join(chosen))  # names the server gave: data, not escapes
        print(
            f"Downloading {names} from {wanted.repo} into {constants.HF_HUB_CACHE}…",
            file=sys.stderr,
        )
        paths = [hf_hub_download(wanted.repo, f, revision=args.revision) for f in chosen]
    except KeyboardInterrupt:
        print(
            "\ntui-chat pull: stopped. The file under way was not kept (nothing half-written "
            "stays); files already whole stay in the cache, and the next pull fetches the rest.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except PullError as e:
        print(f"tui-chat pull: {visible(str(e))}", file=sys.stderr)
        return EXIT_FAILED
    except GatedRepoError:
        print(
            f"tui-chat pull: {wanted.repo} is gated: accept its terms on its page, then set "
            "$HF_TOKEN to an access token",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except RepositoryNotFoundError:
        print(f"tui-chat pull: there is no repository {wanted.repo} on {endpoint}", file=sys.stderr)
        return EXIT_FAILED
    except RevisionNotFoundError:
        print(f"tui-chat pull: {wanted.repo} has no revision {args.revision}", file=sys.stderr)
        return EXIT_FAILED
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, httpx2.HTTPError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"tui-chat pull: cannot download from {endpoint}: {visible(reason)}", file=sys.stderr)
        return EXIT_FAILED
    except ValueError as e:  # huggingface_hub's check of a repository or revision name
        print(f"tui-chat pull: {visible(str(e).splitlines()[0])}", file=sys.stderr)
        return EXIT_USAGE
    print(f"tui-chat --model {visible(shlex.quote(paths[0]))}")
    return EXIT_OK
