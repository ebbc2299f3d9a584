"""The interview coach's flows (``InterviewService``) against the real analysis service over
gRPC and a migrated SQLite database: two users, every record owned, the seed's whole session
from resume to report, and the bad inputs (nothing stored)."""

from __future__ import annotations

import asyncio
import io
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.common import db
from services.common.runtime import Runtime
from services.common.settings import load_settings
from services.common.transcript import Segment, SpeechInterval, Transcript, Word
from services.gateway.clients.analysis import AnalysisClient
from services.gateway.products.interviews.models import InterviewReport, KnowledgeSetCache
from services.gateway.products.interviews.schemas import FileMeta, GenerateQuestionsIn
from services.gateway.products.interviews.service import InterviewService
from services.gateway.shared.errors import ApiError
from services.platform import Platform

MIGRATIONS = Path(db.__file__).resolve().parents[1] / "gateway" / "migrations"
RESUME = """Jane Doe
Experience
ML Engineer at Acme | Jan 2019 - Dec 2023
Python, PyTorch, Docker, Kubernetes and sklearn pipelines.
Data Analyst, Initech, 06/2017 - 12/2019
Education
B.Sc. Statistics, 2013 - 2017
"""
ANSWER = (
    "First, I keep a holdout validation set and watch the gap between training and validation "
    "loss. Then I add dropout and L2 regularization, and um I collect more data when I can. "
    "So, in short, I detect overfitting with validation and prevent it with regularization."
)


def pdf(text: str) -> bytes:
    from fpdf import FPDF

    doc = FPDF()
    doc.add_page()
    doc.set_font("Helvetica", size=11)
    for line in text.splitlines():
        doc.multi_cell(0, 6, line or " ", new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())


def answer_transcript(text: str = ANSWER, gap: float = 0.12) -> Transcript:
    t, words = 0.5, []
    for w in text.split():
        words.append(Word(word=" " + w, start=round(t, 3), end=round(t + 0.3, 3)))
        t += 0.3 + gap
    speech = [
        SpeechInterval(start=0.5, end=round(t / 2, 3)),
        SpeechInterval(start=round(t / 2 + 1.6, 3), end=t),
    ]
    return Transcript(
        duration=t + 0.5,
        text=text,
        segments=[Segment(id=0, start=0.5, end=t, text=text, words=words)],
        speech=speech,
    )


@pytest.fixture(scope="module")
async def platform() -> AsyncIterator[tuple[Platform, Runtime]]:
    with tempfile.TemporaryDirectory(prefix="earshot-iv-") as tmp:
        settings = load_settings(
            data_dir=Path(tmp),
            bus_url="memory://",
            database_url=None,
            storage_url=None,
            analysis_grpc_port=0,
            log_level="warning",
        )
        p = Platform(settings, ("analysis",), run_migrations=False)
        runtime = await p.start()
        try:
            yield p, runtime
        finally:
            await p.stop()


@pytest.fixture(scope="module")
async def sessions(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('iv') / 'gw.db'}"
    await db.run_migrations_async(url, MIGRATIONS, "alembic_version_gateway")
    engine = db.create_engine(url)
    try:
        yield db.session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def client(platform: tuple[Platform, Runtime]) -> AsyncIterator[AnalysisClient]:
    async with grpc.aio.insecure_channel(platform[1].grpc_target("analysis")) as channel:
        yield AnalysisClient(channel, timeout_s=60)


class Users:
    """Runs one service call in its own session, as a request would."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: AnalysisClient) -> None:
        self.sessions, self.client = sessions, client

    async def __call__(self, user: str, method: str, *args: Any, **kwargs: Any) -> Any:
        async with self.sessions() as session:
            return await getattr(InterviewService(session, user, self.client), method)(*args, **kwargs)


@pytest.fixture
def call(sessions: async_sessionmaker[AsyncSession], client: AnalysisClient) -> Users:
    return Users(sessions, client)


async def expect(status: int, coro: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await coro
    assert caught.value.status == status, caught.value
    return caught.value


META = FileMeta(filename="a.flac", content_type="audio/flac", format="flac", size_bytes=1, duration_s=30.0)


async def test_resume_upload_knowledge_set_and_bad_files(
    call: Users, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await expect(404, call("carol", "my_resume"))
    for data, status, title in [
        (b"", 422, "Empty file"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, 422, "Unsupported file type"),
        (pdf(""), 422, "No text layer"),
        (b"%PDF-1.4 nothing", 422, "Unreadable file"),
        (b"x" * (5 * 1024 * 1024 + 1), 413, "File too large"),
    ]:
        err = await expect(status, call("carol", "extract_resume", "cv.pdf", data))
        assert err.error == title and err.details
    await expect(404, call("carol", "my_resume"))  # nothing stored
    out = await call("carol", "extract_resume", "cv.pdf", pdf(RESUME))
    assert out.kind == "pdf" and out.pages == 1
    assert {"Python", "PyTorch", "Docker", "Kubernetes", "scikit-learn"} <= set(out.skills)
    assert out.years_experience == pytest.approx(6.6, abs=0.05)  # Jun 2017 - Dec 2023, overlap once
    assert out.education and "ML Engineer" in out.roles
    ks = await call("carol", "knowledge_set")
    assert ks.cached and ks.areas["deep_learning"] == ["PyTorch"] and ks.resume_sha256 == out.text_sha256
    async with sessions() as s:
        await s.execute(delete(KnowledgeSetCache))
        await s.commit()
    assert not (await call("carol", "knowledge_set")).cached
    assert (await call("carol", "knowledge_set")).cached
    text = await call("carol", "extract_resume", "cv.txt", b"Product manager. Roadmap, user research, SQL.")
    assert text.kind == "text" and "SQL" in text.skills
    assert "Python" not in (await call("carol", "knowledge_set")).skills  # replaced, cache invalidated
    await expect(404, call("dave", "knowledge_set"))


async def test_whole_session_from_questions_to_report(
    call: Users, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await call("alice", "extract_resume", "cv.pdf", pdf(RESUME))
    await expect(422, call("alice", "create", "astrology"))
    interview = await call("alice", "create", "ml_engineering")
    again = await call("alice", "create", "ml_engineering")
    assert again.interview_id == interview.interview_id and again.resumed
    iid = interview.interview_id
    await expect(404, call("bob", "generate_questions", GenerateQuestionsIn(interviewId=iid)))
    qs = await call("alice", "generate_questions", GenerateQuestionsIn(interviewId=iid, count=5))
    assert qs.generated and not qs.generic and len(qs.items) == 5
    assert all(q.question_attempt_id and q.key_concepts for q in qs.items)
    same = await call("alice", "generate_questions", GenerateQuestionsIn(interviewId=iid))
    assert not same.generated and [q.id for q in same.items] == [q.id for q in qs.items]
    new = await call(
        "alice", "generate_questions", GenerateQuestionsIn(interviewId=iid, count=5, regenerate=True)
    )
    assert new.generated and {q.text for q in new.items} != {q.text for q in qs.items}
    page1 = await call("alice", "list_questions", iid, 2, None)
    page2 = await call("alice", "list_questions", iid, 2, page1.next_cursor)
    page3 = await call("alice", "list_questions", iid, 2, page2.next_cursor)
    assert [q.id for q in page1.items + page2.items + page3.items] == [q.id for q in new.items]
    assert page3.next_cursor is None
    await expect(404, call("bob", "list_questions", iid, 2, None))
    attempts = (await call("alice", "attempts", iid)).items
    first = attempts[0].question_attempt_id
    await expect(409, call("alice", "complete_analysis", first, ["domain"]))  # transcribe first
    await expect(404, call("bob", "attempt_for_upload", first))
    await call("alice", "attempt_for_upload", first)
    saved = await call("alice", "save_transcript", first, answer_transcript(), META, 1.5)
    assert saved.words and len(saved.speech_intervals) == 2
    full = await call("alice", "complete_analysis", first, ["domain", "communication", "pace", "pause"])
    assert not full.partial and set(full.status) == {"domain", "communication", "pace", "pause"}
    assert full.pause is not None and full.pause.source == "vad" and full.pause.pause_count == 1
    assert full.domain is not None and full.domain.score > 0 and full.communication is not None
    assert full.communication.suggestions and full.performance.per_analysis_ms
    subset = await call("alice", "complete_analysis", first, ["pace", "pause"])
    assert subset.domain is None and set(subset.status) == {"pace", "pause"}
    for kind in ("domain", "communication", "pace", "pause"):
        single = await call("alice", "single", first, kind)
        assert single["question_attempt_id"] == first and "score" in single
    await expect(404, call("bob", "single", first, "pace"))
    state = (await call("alice", "attempts", iid)).items[0]
    assert state.transcribed and state.analyses == ["domain", "communication", "pace", "pause"]
    second = attempts[1].question_attempt_id
    await call(
        "alice", "save_transcript", second, answer_transcript("um I do not uh know", gap=1.8), META, 1.0
    )
    await call("alice", "complete_analysis", second, ["domain", "communication", "pace", "pause"])
    reports = await asyncio.gather(*(call("alice", "final_report", iid) for _ in range(10)))
    assert all(r.interview_id == iid for r in reports)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(InterviewReport)) == 1
    report = reports[-1].report
    assert report["answered"] == 2 and report["questions_total"] == 5
    assert report["things_to_work_on"] and report["recommended_practice"]
    await expect(404, call("bob", "final_report", iid))
    md, md_type = await call("alice", "rendered_report", iid, "md")
    assert md_type.startswith("text/markdown") and b"## Things to work on" in md
    pdf_bytes, pdf_type = await call("alice", "rendered_report", iid, "pdf")
    assert pdf_type == "application/pdf" and pdf_bytes.startswith(b"%PDF-")
    await call("alice", "complete", iid)
    await expect(409, call("alice", "complete", iid))
    await expect(409, call("alice", "attempt_for_upload", first))
    await expect(
        409, call("alice", "generate_questions", GenerateQuestionsIn(interviewId=iid, regenerate=True))
    )
    progress = await call("alice", "progress")
    assert [p.interview_id for p in progress.interviews] == [iid] and progress.dimensions["pace"]
    assert (await call("bob", "progress")).interviews == []


async def test_questions_without_resume_and_interview_pages(call: Users) -> None:
    made = [
        await call("erin", "create", track)
        for track in ("data_science", "software_engineering", "product_management")
    ]
    generic = await call(
        "erin", "generate_questions", GenerateQuestionsIn(interviewId=made[2].interview_id, count=4)
    )
    assert generic.generic and len(generic.items) == 4
    page1 = await call("erin", "list_interviews", 2, None)
    await call("erin", "create", "ml_engineering")  # inserted while reading
    page2 = await call("erin", "list_interviews", 2, page1.next_cursor)
    assert [i.interview_id for i in page1.items + page2.items] == [m.interview_id for m in reversed(made)]
    assert page2.next_cursor is None
    assert (await call("frank", "list_interviews", 20, None)).items == []


async def test_one_analysis_timing_out_leaves_a_partial_result(
    call: Users, platform: tuple[Platform, Runtime]
) -> None:
    engine: Any = platform[0].services["analysis"].engine  # type: ignore[attr-defined]
    interview = await call("gina", "create", "data_science")
    qs = await call(
        "gina", "generate_questions", GenerateQuestionsIn(interviewId=interview.interview_id, count=2)
    )
    attempt = qs.items[0].question_attempt_id
    await call("gina", "save_transcript", attempt, answer_transcript(), META, 1.0)
    analyzer = engine.interview
    original, timeout = analyzer.communication, analyzer.timeout_s

    async def slow(answer: str, speaking_s: float | None = None) -> Any:
        await asyncio.sleep(5)

    analyzer.communication, analyzer.timeout_s = slow, 0.3
    try:
        out = await call("gina", "complete_analysis", attempt, ["domain", "communication", "pace", "pause"])
    finally:
        analyzer.communication, analyzer.timeout_s = original, timeout
    assert out.partial and out.errors["communication"].error == "timeout"
    assert out.status["communication"].status == "failed" and out.communication is None
    assert out.domain is not None and out.pace is not None and out.pause is not None
    state = (await call("gina", "attempts", interview.interview_id)).items[0]
    assert state.analyses == ["domain", "pace", "pause"]


def test_fixture_pdf_has_text() -> None:
    from pypdf import PdfReader

    assert "Acme" in PdfReader(io.BytesIO(pdf(RESUME))).pages[0].extract_text()
