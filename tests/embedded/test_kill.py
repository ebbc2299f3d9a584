"""Kill tests of the embedded mode (issue 15): ``earshot up`` SIGKILLed mid-job 10 times in a row
(transcription and media jobs every round; temperature, ANC batch and meeting jobs in the first
three), restarted each time, then left to finish. Every job must end ``succeeded`` or ``failed`` with a
reason; none lost or stuck; no duplicated result rows; no objects left for ended jobs; no temp
folders left after the final graceful stop; no process of the killed platform's group left alive
(checked in ``/proc``). The harness is ``kill_harness.py``; ``benchmarks/kill.py`` prints the
same figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.embedded.kill_harness import run

pytestmark = pytest.mark.timeout(900)  # 11 starts of the whole platform: about 3.5 min on two cores


def test_killed_ten_times_every_job_ends_and_nothing_is_left(tmp_path: Path) -> None:
    figures = run(tmp_path, rounds=10)
    print(json.dumps(figures.as_dict()))  # the figures for the closing note (pytest -s)
    submitted = sum(figures.submitted.values())
    ended = sum(figures.succeeded.values()) + sum(figures.failed.values())
    assert figures.kills == 10
    assert figures.lost == 0 and figures.stuck == 0, figures
    assert ended == submitted == 29, figures
    assert figures.failed_without_reason == 0, figures
    assert figures.duplicated_results == 0, figures
    assert figures.objects_left == [], figures
    assert figures.temp_left == [], figures
    assert figures.orphan_processes == 0, figures
