"""Pure core: protocol, paths, settings and conversation logic.

Nothing here imports Textual or llama_cpp; a test checks it.
"""
