"""The committed gRPC stubs match what `make proto` generates from proto/."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_proto"] = module
    spec.loader.exec_module(module)
    return module


def test_stubs_are_fresh(tmp_path: Path) -> None:
    _load_generator().generate(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.suffix in {".py", ".pyi"})
    assert generated, "protoc generated nothing"
    stubs = [p for p in generated if p.name.endswith(("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"))]
    assert any(p.name == "transcription_pb2_grpc.py" for p in stubs)
    stale = [
        str(rel)
        for rel in stubs
        if not (ROOT / "proto" / rel).is_file()
        or (ROOT / "proto" / rel).read_bytes() != (tmp_path / rel).read_bytes()
    ]
    assert not stale, f"stubs are stale, run `make proto`: {stale}"


def test_stubs_import() -> None:
    from earshot.transcription.v1 import transcription_pb2, transcription_pb2_grpc

    assert transcription_pb2.DESCRIPTOR.services_by_name["TranscriptionService"]
    assert hasattr(transcription_pb2_grpc, "TranscriptionServiceStub")
