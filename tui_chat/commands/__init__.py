"""The commands of ``tui-chat``: the app (``chat``), ``translate``, ``export`` and ``bench``.

``tui_chat.cli`` picks one by the first word of the command line; the commands share
``common`` (exit codes, the setting options, the settings file) and never import ``cli``.
"""
