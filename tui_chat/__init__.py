"""tui-chat: a terminal chat application for local language models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tui-chat")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
