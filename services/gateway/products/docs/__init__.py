"""The API documentation pages (``/docs``, ``/redoc``) served with no network access."""
