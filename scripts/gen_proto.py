"""Generate Python gRPC stubs (with .pyi) for every .proto under proto/.

Usage: python scripts/gen_proto.py [OUT_DIR]   (default: proto/, beside the sources)
"""

from __future__ import annotations

import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"


def generate(out: Path) -> None:
    """Run grpcio-tools' protoc on every .proto; raise SystemExit on failure."""
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    include = Path(grpc_tools.__file__).parent / "_proto"
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{PROTO}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for rel in files:  # make every generated folder a package
        folder = out / Path(rel).parent
        while folder != out.parent and folder != out:
            (folder / "__init__.py").touch()
            folder = folder.parent


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else PROTO)
