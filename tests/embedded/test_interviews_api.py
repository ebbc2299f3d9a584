"""The interview coach over HTTP on the embedded platform (seed 001's smoke list): accounts,
resume, knowledge set, interviews and questions with cursor pages, answers transcribed with
word timestamps and voice activity (jfk.flac over gRPC, a 72 s answer over the job events),
every analysis, the session report (10 concurrent calls), progress, and each route refusing
another user's ids (404), no token (401) and bad input (4xx JSON, nothing stored)."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any

import httpx
import numpy as np
import pytest

from services.common import audio
from tests.conftest import FIXTURES, JFK, Embedded

PASSWORD = "sturdy-password-42"
RESUME = """Sam Lee
Experience
Senior Data Scientist at Acme | March 2019 - December 2023
Statistics, A/B testing, pandas, sklearn and SQL (Postgres).
Data Analyst, Initech, 01/2016 - 06/2019
Education
M.Sc. Statistics, 2014 - 2016
"""

pytestmark = pytest.mark.slow


def pdf(text: str) -> bytes:
    from fpdf import FPDF

    doc = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", size=11)
    for line in text.splitlines():
        doc.multi_cell(0, 6, line or " ", new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())


def answer_72s() -> bytes:
    """A 72 s answer assembled from the shared recordings (weekly sync, then a heated talk)."""
    parts = [
        audio.decode(FIXTURES / "weekly_sync.wav", 16000),
        audio.decode(FIXTURES / "heated_conversation.flac", 16000),
    ]
    return audio.wav_bytes(np.concatenate(parts)[: 72 * 16000], 16000)


def err(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = dict(reply.json())
    assert set(body) == {"error", "details", "timestamp"}, body
    return body


async def account(client: httpx.AsyncClient, tag: str) -> dict[str, str]:
    email = f"{tag}-{uuid.uuid4().hex[:8]}@example.com"
    reply = await client.post("/api/users", json={"email": email, "password": PASSWORD, "name": tag})
    assert reply.status_code == 201, reply.text
    return {"Authorization": f"Bearer {reply.json()['token']}"}


async def test_accounts_and_token_negatives(client: httpx.AsyncClient) -> None:
    email = f"dup-{uuid.uuid4().hex[:8]}@example.com"
    first = await client.post("/api/users", json={"email": email, "password": PASSWORD, "name": "Dup"})
    assert first.status_code == 201 and first.json()["token"]
    err(await client.post("/api/users", json={"email": email, "password": PASSWORD, "name": "Dup"}), 409)
    login = await client.post("/api/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    err(await client.post("/api/login", json={"email": email, "password": "Wrong-pass-1"}), 401)
    token = {"Authorization": f"Bearer {login.json()['token']}"}
    assert (await client.get("/api/me", headers=token)).json()["email"] == email
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        reply = await client.get("/api/interviews", headers=headers)
        err(reply, 401)
        assert reply.headers["www-authenticate"].startswith("Bearer")


async def test_resume_and_knowledge_set(client: httpx.AsyncClient) -> None:
    me = await account(client, "resume")
    err(await client.get("/api/me/resume", headers=me), 404)
    for name, data, status in [
        ("empty.pdf", b"", 422),
        ("photo.pdf", (FIXTURES / "coffee.png").read_bytes(), 422),
        ("scan.pdf", pdf(""), 422),
        ("huge.txt", b"a" * (5 * 1024 * 1024 + 10), 413),
    ]:
        err(await client.post("/api/extract-resume", headers=me, files={"file": (name, data)}), status)
    err(await client.post("/api/extract-resume", headers=me, data={"x": "1"}), 422)  # missing file
    err(await client.get("/api/me/resume", headers=me), 404)  # nothing stored
    reply = await client.post(
        "/api/extract-resume", headers=me, files={"file": ("cv.pdf", pdf(RESUME), "application/pdf")}
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["kind"] == "pdf" and {
        "Statistics",
        "A/B Testing",
        "Pandas",
        "scikit-learn",
        "PostgreSQL",
    } <= set(body["skills"])
    assert body["years_experience"] == pytest.approx(8.0, abs=0.05)  # Jan 2016 - Dec 2023, overlap once
    assert (await client.get("/api/me/resume", headers=me)).json()["text_sha256"] == body["text_sha256"]
    ks = (await client.get("/api/get_knowledgeset", headers=me)).json()
    assert ks["cached"] and ks["areas"]["machine_learning"] == ["scikit-learn"]
    text = await client.post(
        "/api/extract-resume", headers=me, files={"file": ("cv.txt", b"Go and Kubernetes, 4 years.")}
    )
    assert text.json()["kind"] == "text" and text.json()["skills"] == ["Go", "Kubernetes"]
    assert (await client.get("/api/get_knowledgeset", headers=me)).json()["skills"] == ["Go", "Kubernetes"]


async def test_interview_session_end_to_end(client: httpx.AsyncClient, embedded: Embedded) -> None:
    alice, bob = await account(client, "alice"), await account(client, "bob")
    await client.post("/api/extract-resume", headers=alice, files={"file": ("cv.txt", RESUME.encode())})
    tracks = (await client.get("/api/interviews/tracks", headers=alice)).json()["tracks"]
    assert {"data_science", "ml_engineering", "software_engineering", "product_management"} <= {
        t["id"] for t in tracks
    }
    err(await client.post("/api/interviews/create", headers=alice, json={"track": "astrology"}), 422)
    created = (
        await client.post("/api/interviews/create", headers=alice, json={"track": "data_science"})
    ).json()
    iid = created["interviewId"]
    assert (
        await client.post("/api/interviews/create", headers=alice, json={"track": "data_science"})
    ).json()["resumed"]
    err(await client.post("/api/interviews/generate-questions", headers=bob, json={"interviewId": iid}), 404)
    qs = await client.post(
        "/api/interviews/generate-questions", headers=alice, json={"interviewId": iid, "count": 5}
    )
    assert qs.status_code == 200, qs.text
    items = qs.json()["items"]
    assert len(items) == 5 and not qs.json()["generic"] and all(q["key_concepts"] for q in items)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/api/interviews/{iid}/questions", headers=alice, params=params)).json()
        assert page["interviewId"] == iid and page["limit"] == 2
        seen += [q["id"] for q in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [q["id"] for q in items]
    for bad in (0, 101):
        err(await client.get("/api/interviews", headers=alice, params={"limit": bad}), 422)
    listing = (await client.get("/api/interviews", headers=alice, params={"limit": 20})).json()
    assert [i["interviewId"] for i in listing["items"]] == [iid] and listing["next_cursor"] is None
    attempts = (await client.get(f"/api/interviews/{iid}/question-attempts", headers=alice)).json()["items"]
    first, second = attempts[0]["question_attempt_id"], attempts[1]["question_attempt_id"]

    # transcription: negatives first (nothing stored), then jfk over gRPC and 72 s over events
    jfk = {"file": ("jfk.flac", JFK.read_bytes(), "audio/flac")}
    err(await client.post("/api/transcribe-whisper", headers=alice, files=jfk), 422)  # no attempt id
    err(
        await client.post(
            "/api/transcribe-whisper", headers=alice, files=jfk, data={"question_attempt_id": "x"}
        ),
        422,
    )
    err(
        await client.post(
            "/api/transcribe-whisper", headers=bob, files=jfk, data={"question_attempt_id": first}
        ),
        404,
    )
    err(await client.post("/api/transcribe-whisper", headers=alice, data={"question_attempt_id": first}), 422)
    bad = {"file": ("a.wav", b"RIFF not really audio" * 10, "audio/wav")}
    err(
        await client.post(
            "/api/transcribe-whisper", headers=alice, files=bad, data={"question_attempt_id": first}
        ),
        400,
    )
    err(await client.post("/api/complete-analysis", headers=alice, json={"question_attempt_id": first}), 409)
    reply = await client.post(
        "/api/transcribe-whisper",
        headers=alice,
        files=jfk,
        data={"question_attempt_id": first, "language": "en"},
    )
    assert reply.status_code == 200, reply.text
    t = reply.json()
    assert "ask not what your country" in t["text"].lower() and len(t["words"]) >= 20
    assert t["duration"] == pytest.approx(11.0, abs=0.1) and t["file"]["format"] == "flac"
    gaps = [
        b["start"] - a["end"] for a, b in zip(t["speech_intervals"], t["speech_intervals"][1:], strict=False)
    ]
    assert len(gaps) == 3 and sum(gaps) == pytest.approx(2.8, abs=0.2)
    long = await client.post(
        "/api/transcribe-whisper",
        headers=alice,
        files={"file": ("answer.wav", answer_72s(), "audio/wav")},
        data={"question_attempt_id": second},
    )
    assert long.status_code == 200, long.text
    assert long.json()["duration"] == pytest.approx(72.0, abs=0.2) and len(long.json()["words"]) > 100
    assert long.json()["speech_intervals"]
    assert embedded.temp_leftovers() == []

    # analyses
    err(
        await client.post(
            "/api/complete-analysis",
            headers=alice,
            json={"question_attempt_id": first, "analysis_types": ["telepathy"]},
        ),
        422,
    )
    full = await client.post("/api/complete-analysis", headers=alice, json={"question_attempt_id": first})
    assert full.status_code == 200, full.text
    f = full.json()
    assert set(f["status"]) == {"domain", "communication", "pace", "pause"} and not f["partial"]
    assert f["pause"]["source"] == "vad" and f["pause"]["pause_count"] == 3
    assert f["performance"]["total_ms"] > 0 and set(f["performance"]["per_analysis_ms"]) == set(f["status"])
    subset = await client.post(
        "/api/complete-analysis",
        headers=alice,
        json={"question_attempt_id": second, "analysis_types": ["pace", "pause"]},
    )
    assert subset.json()["domain"] is None and subset.json()["pace"]["words"] > 100
    for path in (
        "/api/domain-base-analysis",
        "/api/communication-based-analysis",
        "/api/analyze-pace",
        "/api/analyze-pause",
    ):
        one = await client.post(path, headers=alice, json={"question_attempt_id": second})
        assert (
            one.status_code == 200 and one.json()["question_attempt_id"] == second and "score" in one.json()
        )
        err(await client.post(path, headers=bob, json={"question_attempt_id": second}), 404)
        err(
            await client.post(
                path, headers=alice, json={"question_attempt_id": attempts[2]["question_attempt_id"]}
            ),
            409,
        )
    state = (await client.get(f"/api/interviews/{iid}/question-attempts", headers=alice)).json()["items"]
    assert state[0]["analyses"] == ["domain", "communication", "pace", "pause"] == state[1]["analyses"]

    # report, 10 at once: one row, no error
    replies = await asyncio.gather(
        *(client.post("/api/final-report", headers=alice, json={"interviewId": iid}) for _ in range(10))
    )
    assert [r.status_code for r in replies] == [200] * 10
    report = replies[0].json()["report"]
    assert (
        report["answered"] == 2 and report["pace_over_session"]["values"] and report["recommended_practice"]
    )
    err(await client.post("/api/final-report", headers=bob, json={"interviewId": iid}), 404)
    md = await client.get(f"/api/final-report/{iid}", headers=alice, params={"format": "md"})
    assert md.headers["content-type"].startswith("text/markdown") and "## Scores" in md.text
    pdf_reply = await client.get(f"/api/final-report/{iid}", headers=alice, params={"format": "pdf"})
    assert pdf_reply.content.startswith(b"%PDF-")
    from pypdf import PdfReader

    assert "Recommended practice" in "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(pdf_reply.content)).pages
    )
    err(await client.get(f"/api/final-report/{iid}", headers=bob), 404)
    err(await client.get(f"/api/final-report/{iid}", headers=alice, params={"format": "docx"}), 422)

    # completion
    done = await client.post("/api/interviews/complete", headers=alice, json={"interviewId": iid})
    assert done.status_code == 200 and done.json()["status"] == "completed"
    err(await client.post("/api/interviews/complete", headers=alice, json={"interviewId": iid}), 409)
    err(
        await client.post(
            "/api/transcribe-whisper", headers=alice, files=jfk, data={"question_attempt_id": first}
        ),
        409,
    )
    progress = (await client.get("/api/progress", headers=alice)).json()
    assert [p["interviewId"] for p in progress["interviews"]] == [iid]
    assert (await client.get("/api/progress", headers=bob)).json()["interviews"] == []

    # another user's ids: 404 everywhere
    for method, path, kwargs in [
        ("get", f"/api/interviews/{iid}/questions", {}),
        ("get", f"/api/interviews/{iid}/question-attempts", {}),
        ("post", "/api/interviews/complete", {"json": {"interviewId": iid}}),
        ("post", "/api/complete-analysis", {"json": {"question_attempt_id": first}}),
    ]:
        err(await client.request(method, path, headers=bob, **kwargs), 404)
    assert (await client.get("/api/interviews", headers=bob)).json()["items"] == []


async def test_questions_without_a_resume_are_generic(client: httpx.AsyncClient) -> None:
    me = await account(client, "noresume")
    created = (
        await client.post("/api/interviews/create", headers=me, json={"track": "product_management"})
    ).json()
    reply = await client.post(
        "/api/interviews/generate-questions", headers=me, json={"interviewId": created["interviewId"]}
    )
    assert reply.status_code == 200 and reply.json()["generic"] and len(reply.json()["items"]) == 5
    err(await client.post("/api/interviews/generate-questions", headers=me, json={"interviewId": 10**9}), 404)


async def test_one_analysis_timing_out_over_http(client: httpx.AsyncClient, embedded: Embedded) -> None:
    me = await account(client, "partial")
    iid = (await client.post("/api/interviews/create", headers=me, json={"track": "ml_engineering"})).json()[
        "interviewId"
    ]
    items = (
        await client.post("/api/interviews/generate-questions", headers=me, json={"interviewId": iid})
    ).json()["items"]
    attempt = items[0]["question_attempt_id"]
    jfk = {"file": ("jfk.flac", JFK.read_bytes(), "audio/flac")}
    assert (
        await client.post(
            "/api/transcribe-whisper", headers=me, files=jfk, data={"question_attempt_id": attempt}
        )
    ).status_code == 200
    analyzer: Any = embedded.platform.services["analysis"].engine.interview  # type: ignore[attr-defined]
    original, timeout = analyzer.domain, analyzer.timeout_s

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(5)

    analyzer.domain, analyzer.timeout_s = slow, 0.3
    try:
        reply = await client.post("/api/complete-analysis", headers=me, json={"question_attempt_id": attempt})
    finally:
        analyzer.domain, analyzer.timeout_s = original, timeout
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["partial"] and body["errors"]["domain"]["error"] == "timeout" and body["domain"] is None
    assert (
        body["status"]["domain"]["status"] == "failed"
        and body["pace"]
        and body["pause"]
        and body["communication"]
    )
    state = (await client.get(f"/api/interviews/{iid}/question-attempts", headers=me)).json()["items"][0]
    assert state["analyses"] == ["communication", "pace", "pause"]  # persisted, without the failed one
