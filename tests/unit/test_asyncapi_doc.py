"""docs/asyncapi.yaml is generated from the payload models, valid AsyncAPI 3.0.0, and fresh."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import yaml

from services.common.events import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "fixtures" / "asyncapi-3.0.0-schema.json"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_asyncapi", ROOT / "scripts" / "gen_asyncapi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_asyncapi_document_is_fresh() -> None:
    assert (ROOT / "docs" / "asyncapi.yaml").read_text() == _generator().render(), (
        "run: python scripts/gen_asyncapi.py"
    )


def test_asyncapi_document_is_valid_asyncapi_3() -> None:
    doc = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert errors == []
    # the validator rejects a broken document (the check can fail)
    broken = {**doc, "channels": {"x": {"address": 5}}}
    assert list(validator.iter_errors(broken))


def test_every_ref_resolves_and_every_event_is_a_message() -> None:
    doc = _generator().build()
    for ref in _refs(doc):
        assert _resolve(doc, ref) is not None, ref
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert names == {model.event_type for model in CATALOGUE}
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == {model.topic for model in CATALOGUE}
    assert doc["components"]["schemas"]["CloudEventHeaders"]["properties"]["ce_traceparent"]
