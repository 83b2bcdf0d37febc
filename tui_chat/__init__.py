"""tui-chat: a terminal chat application for local language models."""

# The one place the version is written (pyproject.toml reads it from here): looking it
# up through importlib.metadata would slow every start.
__version__ = "0.1.0"
