"""The service layer: owns the worker process; the UI talks only to it."""
