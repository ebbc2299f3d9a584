"""docs/events.md is generated from the payload models and must not go stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_event_catalogue_is_fresh() -> None:
    spec = importlib.util.spec_from_file_location("gen_events_doc", ROOT / "scripts" / "gen_events_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    assert "earshot.transcription.completed.v1" in expected
    assert (ROOT / "docs" / "events.md").read_text() == expected, "run: python scripts/gen_events_doc.py"
