"""docs/openapi.json is the gateway's OpenAPI document and must not go stale."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_export_is_fresh() -> None:
    spec = importlib.util.spec_from_file_location("gen_openapi", ROOT / "scripts" / "gen_openapi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    document = json.loads(expected)
    assert document["openapi"].startswith("3.")
    assert "/ready" in document["paths"]
    assert (ROOT / "docs" / "openapi.json").read_text() == expected, "run: python scripts/gen_openapi.py"
