"""Fetch the console's vendored JavaScript libraries from the npm registry (dev time only).

The console (``services/gateway/products/console/static/``) is served by the gateway with
no CDN and no Node.js at run time, so the libraries it uses are committed. This script is
how they got there, and how to reproduce or upgrade them: each package is pinned to a
version and to the registry's ``dist.integrity`` (SHA-512, Subresource Integrity format);
the tarball is downloaded, its digest checked, and only the listed files (and the licence)
are copied. Running it again writes the same bytes.

    python scripts/fetch_console_vendor.py          # fetch, verify, write
    python scripts/fetch_console_vendor.py --check  # verify the committed files, no network

Errors: ``SystemExit`` with a message when a digest differs or a listed file is missing.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSOLE_VENDOR = ROOT / "services/gateway/products/console/static/vendor"
TEST_VENDOR = ROOT / "tests/e2e/vendor"

# (package, version, dist.integrity, destination, {file in the tarball: name written})
PACKAGES: list[tuple[str, str, str, Path, dict[str, str]]] = [
    (
        "chart.js",
        "4.6.1",
        "sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g==",
        CONSOLE_VENDOR / "chart.js",
        {"package/dist/chart.umd.min.js": "chart.umd.min.js", "package/LICENSE.md": "LICENSE.md"},
    ),
    (
        "wavesurfer.js",
        "7.9.9",
        "sha512-8O/zu+RC7yjikxiuhsXzRZ8vvjV+Qq4PUKZBQsLLcq6fqbrSF3Vh99l7fT8zeEjKjDBNH2Qxsxq5mRJIuBmM3Q==",
        CONSOLE_VENDOR / "wavesurfer.js",
        {
            "package/dist/wavesurfer.min.js": "wavesurfer.min.js",
            "package/dist/plugins/regions.min.js": "regions.min.js",
            "package/dist/plugins/spectrogram.min.js": "spectrogram.min.js",
            "package/LICENSE": "LICENSE",
        },
    ),
    (
        "axe-core",
        "4.14.1",
        "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
        TEST_VENDOR / "axe-core",
        {"package/axe.min.js": "axe.min.js", "package/LICENSE": "LICENSE"},
    ),
]
MANIFEST = "SOURCE.json"


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(name: str, version: str, integrity: str, dest: Path, files: dict[str, str]) -> None:
    """Download one tarball, check its SHA-512 against ``integrity``, write ``files`` into ``dest``."""
    url = f"https://registry.npmjs.org/{name}/-/{name.split('/')[-1]}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 (fixed https URL)
        data = resp.read()
    if _sri(data) != integrity:
        raise SystemExit(f"{name}@{version}: integrity mismatch ({_sri(data)} != {integrity})")
    dest.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member, out in files.items():
            fh = tar.extractfile(member)
            if fh is None:
                raise SystemExit(f"{name}@{version}: {member} is not in the tarball")
            body = fh.read()
            (dest / out).write_bytes(body)
            digests[out] = hashlib.sha256(body).hexdigest()
    manifest = {
        "package": name,
        "version": version,
        "tarball": url,
        "integrity": integrity,
        "sha256": digests,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{name}@{version} -> {dest.relative_to(ROOT)}")


def check(dest: Path, version: str) -> list[str]:
    """Problems with the committed copy in ``dest`` (empty when every SHA-256 matches)."""
    path = dest / MANIFEST
    if not path.is_file():
        return [f"{path} is missing"]
    manifest = json.loads(path.read_text())
    problems = [] if manifest["version"] == version else [f"{dest}: version {manifest['version']}"]
    for out, digest in manifest["sha256"].items():
        file = dest / out
        if not file.is_file() or hashlib.sha256(file.read_bytes()).hexdigest() != digest:
            problems.append(f"{file} differs from {MANIFEST}")
    return problems


def main() -> None:
    """Fetch every package, or with ``--check`` verify the committed copies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the committed files only")
    args = parser.parse_args()
    if args.check:
        problems = [p for _, version, _, dest, _ in PACKAGES for p in check(dest, version)]
        print("\n".join(problems) or "vendored files match their manifests")
        sys.exit(1 if problems else 0)
    for package in PACKAGES:
        fetch(*package)


if __name__ == "__main__":
    main()
