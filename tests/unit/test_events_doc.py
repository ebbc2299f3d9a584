"""docs/events.md is generated from the payload models and must not go stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_events_doc", ROOT / "scripts" / "gen_events_doc.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_event_catalogue_is_fresh() -> None:
    expected = _generator().render()
    assert "earshot.transcription.completed.v1" in expected
    assert (ROOT / "docs" / "events.md").read_text() == expected, "run: python scripts/gen_events_doc.py"


def test_every_service_group_is_listed() -> None:
    groups = _generator().consumer_groups()
    expected = ("transcription", "analysis", "media", "anc", "gateway", "gateway.<instance>", "gateway-anc")
    for group in expected:
        assert group in groups, group
    assert groups["media"] == ["services.media.service"]


def test_group_scan_reads_literals_constants_and_fstrings(tmp_path: Path) -> None:
    pkg = tmp_path / "services"
    pkg.mkdir()
    (pkg / "a.py").write_text(
        'GROUP = "workers"\n'
        "async def f(bus, job, group):\n"
        '    await bus.subscribe(["t"], GROUP, print)\n'
        '    await bus.subscribe(["t"], f"cli-{job}", print)\n'
        "    await bus.subscribe(['t'], group, print)\n"
        'tables = [ConsumerTable("gw.{instance}", ())]\n'
    )
    assert _generator().consumer_groups(pkg) == {
        "cli-<job>": ["services.a"],
        "gw.<instance>": ["services.a"],
        "workers": ["services.a"],
    }
    (pkg / "b.py").write_text('async def g(bus):\n    await bus.subscribe(["t"], "x" + "y", print)\n')
    with pytest.raises(ValueError, match="not a literal"):
        _generator().consumer_groups(pkg)
