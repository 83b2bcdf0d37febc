"""Screens pushed over the main screen: dialogs, the conversation list, settings."""
