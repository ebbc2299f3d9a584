"""CLI commands that need the composition root (``services.platform``); registered in ``services.cli``."""
