"""`python -m tui_chat` runs the same entry point as the `tui-chat` script."""

import sys

from tui_chat.cli import main

# The guard matters: the worker is started with the spawn method, which imports the
# parent's main module in the child under another name.
if __name__ == "__main__":
    sys.exit(main())
