"""Photo to music video (seed 002): upload, status, downloads, library, progress WebSocket."""
