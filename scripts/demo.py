"""Send the sample recordings to a running Earshot and print what it says.

If nothing answers at --url, starts `earshot up` on that port, waits until it is
healthy, runs the demo and stops it again.

Usage: python scripts/demo.py [--url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [
    ROOT / "tests" / "fixtures" / name
    for name in ("jfk.flac", "calm_conversation.flac", "heated_conversation.flac", "weekly_sync.wav")
]


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    process = None
    data_dir = None
    if not healthy(url):
        parsed = urlparse(url)
        data_dir = tempfile.TemporaryDirectory(prefix="earshot-demo-")
        env = {**os.environ, "EARSHOT_DATA_DIR": data_dir.name, "EARSHOT_LOG_LEVEL": "warning"}
        print(f"no Earshot at {url}: starting one (earshot up)", file=sys.stderr)
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "earshot"),
                "up",
                "--host",
                parsed.hostname or "127.0.0.1",
                "--port",
                str(parsed.port or 8000),
            ],
            env=env,
        )
        deadline = time.monotonic() + 120
        while not healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                print("earshot up did not become healthy", file=sys.stderr)
                return 1
            time.sleep(0.2)
    try:
        with httpx.Client(base_url=url, timeout=300) as client:
            for sample in SAMPLES:
                started = time.perf_counter()
                with sample.open("rb") as fh:
                    response = client.post("/analyze-audio", files={"audio": (sample.name, fh)})
                elapsed = time.perf_counter() - started
                print(f"\n== {sample.name}: HTTP {response.status_code} in {elapsed:.2f} s")
                print(json.dumps(response.json(), indent=2))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        if data_dir is not None:
            data_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
