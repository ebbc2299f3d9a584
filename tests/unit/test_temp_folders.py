"""Each process owns a temp folder named for its instance: removed at stop, and folders of
dead processes removed at the next start (pid check); live and foreign ones are kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.common.runtime import create_runtime, sweep_temp_folders, temp_folder_name
from services.common.settings import load_settings


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


async def test_temp_root_is_named_for_the_instance_and_removed_at_close(tmp_path: Path) -> None:
    runtime = await create_runtime(load_settings(data_dir=tmp_path, instance_id="gw-1"))
    with runtime.temp_dir("upload-") as tmp:
        (tmp / "part").write_bytes(b"x")
        assert tmp.parent == runtime.temp_root
    assert runtime.temp_root.name.startswith("gw-1~") and f"~{os.getpid()}~" in runtime.temp_root.name
    (runtime.temp_root / "left-by-a-crashed-request").mkdir()
    await runtime.close()
    assert not runtime.temp_root.exists()
    assert list((tmp_path / "tmp").iterdir()) == []


async def test_start_removes_folders_of_dead_processes_only(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    dead = root / temp_folder_name("old", "aaaa", pid=_dead_pid())
    alive = root / temp_folder_name("peer", "bbbb", pid=os.getppid())
    foreign = root / temp_folder_name("elsewhere", "cccc", host="another-host", pid=_dead_pid())
    other = root / "not-ours"
    for folder in (dead, alive, foreign, other):
        (folder / "work").mkdir(parents=True)
    runtime = await create_runtime(load_settings(data_dir=tmp_path))
    try:
        assert not dead.exists()
        assert alive.exists() and foreign.exists() and other.exists()
    finally:
        await runtime.close()
    assert sweep_temp_folders(root) == []
