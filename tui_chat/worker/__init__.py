"""The model worker process: the only code that imports llama_cpp."""
