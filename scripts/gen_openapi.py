"""Export the gateway's OpenAPI document to docs/openapi.json (what ``GET /openapi.json``
serves), for teams that generate clients without running the platform.

Usage: python scripts/gen_openapi.py [OUT]   (default docs/openapi.json)

``tests/unit/test_openapi_doc.py`` fails when the file is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "proto"))

from services.gateway.app import create_app  # noqa: E402


def render() -> str:
    """The OpenAPI 3.1 document of the gateway as indented JSON text (one trailing newline)."""
    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "openapi.json"
    target.write_text(render())
