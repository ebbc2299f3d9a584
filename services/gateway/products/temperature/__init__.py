"""Conversation temperature (seed 000): ``POST /analyze-audio``."""
