"""The Textual UI. It talks to the model only through the service."""
