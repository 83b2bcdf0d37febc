"""`tui-chat bench`: the app measured side by side with llama-cpp-python itself.

The raw side (``raw.py``) and the app's model worker (on the bundled model, or playing
the scripted reply of ``replay.py``) run in processes of their own; the process that runs
the benchmark is a UI process and never imports llama_cpp.
"""
