"""Tables of the meeting memos (seed 003): meeting records, templates (with the shared,
read-only defaults seeded here) and CRM speaker profiles.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 00:00:00
"""

# ruff: noqa: E501 - the seeded template texts are kept on one line each
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The default templates (ids: uuid5(NAMESPACE_URL, "earshot:template:<slug>"), the same ids
#: as services.analysis.meeting.DEFAULT_TEMPLATES). Frozen here: a later change is a new revision.
DEFAULT_TEMPLATES: list[dict[str, Any]] = [
    {
        "id": "529582d0-b5f8-50b9-94e7-321070941321",
        "title": "Team Meeting",
        "description": "Status updates, decisions and owners for a recurring team sync",
        "transcription_prompt": "Transcribe verbatim; keep names and numbers as spoken.",
        "summary_prompt": "Summarise the status of each topic, the decisions made and who owns the next steps.",
        "key_points_prompt": ["Status updates", "Decisions", "Next steps"],
        "speaker_diarization": "Several colleagues; label each by name when they introduce themselves or are addressed.",
        "keywords": [
            "sync",
            "weekly",
            "standup",
            "release",
            "status",
            "track",
            "update",
            "team",
            "topics",
            "next week",
            "schedule",
            "agenda",
            "hiring",
            "roadmap",
        ],
    },
    {
        "id": "7d810734-18ff-5502-bc79-5a576c6eefd7",
        "title": "Sales Call",
        "description": "A conversation with a prospect about a product, its price and next steps",
        "transcription_prompt": "Transcribe verbatim; keep names and numbers as spoken.",
        "summary_prompt": "Summarise the customer's needs, the product discussed, objections and pricing.",
        "key_points_prompt": ["Product discussed", "Price mentioned", "Next steps"],
        "speaker_diarization": "Usually two sides: the sales representative and the customer.",
        "keywords": [
            "price",
            "pricing",
            "discount",
            "contract",
            "demo",
            "budget",
            "customer",
            "deal",
            "quote",
            "purchase",
            "license",
            "trial",
            "competitor",
        ],
    },
    {
        "id": "4bb60f58-549e-5216-90a4-148f73e680b8",
        "title": "Customer Support",
        "description": "A customer reports a problem and support works towards a fix",
        "transcription_prompt": "Transcribe verbatim; keep names and numbers as spoken.",
        "summary_prompt": "Summarise the customer's issue, the troubleshooting done and the resolution.",
        "key_points_prompt": ["Issue reported", "Troubleshooting steps", "Resolution"],
        "speaker_diarization": "Two sides: the support agent and the customer.",
        "keywords": [
            "issue",
            "problem",
            "error",
            "crash",
            "bug",
            "ticket",
            "refund",
            "account",
            "broken",
            "reset",
            "fix",
            "support",
            "complaint",
        ],
    },
    {
        "id": "d9d8782b-6ebc-57f0-bf55-b28f3c37fef0",
        "title": "Job Interview",
        "description": "A candidate interview: experience, skills and fit",
        "transcription_prompt": "Transcribe verbatim; keep names and numbers as spoken.",
        "summary_prompt": "Summarise the candidate's experience, strengths, concerns and the hiring recommendation.",
        "key_points_prompt": ["Experience", "Strengths", "Concerns"],
        "speaker_diarization": "The interviewer(s) and one candidate.",
        "keywords": [
            "experience",
            "role",
            "candidate",
            "resume",
            "salary",
            "strengths",
            "weakness",
            "team",
            "position",
            "interview",
            "skills",
        ],
    },
    {
        "id": "fd24801d-356a-5881-9914-6752fdb65853",
        "title": "Project Planning",
        "description": "Scope, milestones, risks and responsibilities of a project",
        "transcription_prompt": "Transcribe verbatim; keep names and numbers as spoken.",
        "summary_prompt": "Summarise the scope, milestones, risks and owners.",
        "key_points_prompt": ["Scope", "Milestones", "Risks"],
        "speaker_diarization": "Several team members; the project lead usually opens.",
        "keywords": [
            "milestone",
            "deadline",
            "scope",
            "risk",
            "plan",
            "sprint",
            "estimate",
            "timeline",
            "dependency",
            "deliverable",
            "requirements",
        ],
    },
    {
        "id": "7349d6f7-46b6-5204-8938-7851a3db235b",
        "title": "One-on-One",
        "description": "A manager and a report talk about progress, feedback, goals and growth",
        "transcription_prompt": "Transcribe verbatim; keep names and numbers as spoken.",
        "summary_prompt": "Summarise the progress discussed, the feedback given both ways and the agreed goals.",
        "key_points_prompt": ["Progress", "Feedback", "Goals"],
        "speaker_diarization": "Two people: a manager and a report.",
        "keywords": [
            "feedback",
            "career",
            "growth",
            "goals",
            "one-on-one",
            "manager",
            "promotion",
            "workload",
            "wellbeing",
            "mentor",
            "performance",
        ],
    },
    {
        "id": "ddae7a10-64d5-5170-8626-6c3d129c4ad2",
        "title": "Lecture",
        "description": "A talk or class that teaches concepts",
        "transcription_prompt": "Transcribe verbatim; keep names and numbers as spoken.",
        "summary_prompt": "Summarise the main concepts explained and the examples given.",
        "key_points_prompt": ["Main concepts", "Examples", "Takeaways"],
        "speaker_diarization": "Mostly one lecturer; questions from the audience.",
        "keywords": [
            "concept",
            "theory",
            "example",
            "chapter",
            "lecture",
            "students",
            "definition",
            "explain",
            "homework",
            "exam",
        ],
    },
    {
        "id": "666ef522-7993-5f53-8f15-024a487220e4",
        "title": "General",
        "description": "Any conversation: a neutral summary, the main points and the follow-ups",
        "transcription_prompt": "Transcribe verbatim; keep names and numbers as spoken.",
        "summary_prompt": "Summarise what was discussed and decided.",
        "key_points_prompt": ["Main topics", "Decisions", "Follow-ups"],
        "speaker_diarization": "Any number of speakers.",
        "keywords": ["discuss", "meeting", "conversation", "talk"],
    },
]

#: SQLite full-text search: an FTS5 table (Porter stemmer) whose content is meeting_records.search_text.
SQLITE_FTS = (
    "CREATE VIRTUAL TABLE meeting_records_fts USING fts5(search_text, content='meeting_records', "
    "content_rowid='rowid', tokenize='porter unicode61')",
    "CREATE TRIGGER meeting_records_fts_ai AFTER INSERT ON meeting_records BEGIN "
    "INSERT INTO meeting_records_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "CREATE TRIGGER meeting_records_fts_ad AFTER DELETE ON meeting_records BEGIN "
    "INSERT INTO meeting_records_fts(meeting_records_fts, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); END",
    "CREATE TRIGGER meeting_records_fts_au AFTER UPDATE OF search_text ON meeting_records BEGIN "
    "INSERT INTO meeting_records_fts(meeting_records_fts, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); "
    "INSERT INTO meeting_records_fts(rowid, search_text) VALUES (new.rowid, new.search_text); END",
)


def upgrade() -> None:
    """Create ``meeting_records``, ``meeting_templates`` and ``speaker_profiles``, seed the
    default templates, and index ``search_text`` for full-text search: a GIN index over its
    ``tsvector`` on PostgreSQL, an FTS5 table kept by triggers on SQLite."""
    op.create_table(
        "meeting_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("transcription", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("key_points", sa.Text(), nullable=True),
        sa.Column("action_items", sa.JSON(), nullable=False),
        sa.Column("speakers", sa.JSON(), nullable=False),
        sa.Column("speaker_labels", sa.JSON(), nullable=False),
        sa.Column("audio_filename", sa.String(length=255), nullable=True),
        sa.Column("second_audio_filename", sa.String(length=255), nullable=True),
        sa.Column("s3_audio_path", sa.String(length=255), nullable=True),
        sa.Column("master_audio_key", sa.String(length=255), nullable=True),
        sa.Column("templateid", sa.String(length=36), nullable=True),
        sa.Column("custom_template_points", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("analytics_status", sa.String(length=16), nullable=False),
        sa.Column("analytics_data", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("is_processed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processing_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')",
            name=op.f("ck_meeting_records_status"),
        ),
        sa.CheckConstraint(
            "analytics_status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED')",
            name=op.f("ck_meeting_records_analytics_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_records")),
    )
    op.create_index(op.f("ix_meeting_records_user_id"), "meeting_records", ["user_id"], unique=False)
    op.create_index(op.f("ix_meeting_records_status"), "meeting_records", ["status"], unique=False)
    op.create_index(
        op.f("ix_meeting_records_analytics_status"), "meeting_records", ["analytics_status"], unique=False
    )
    op.create_index(op.f("ix_meeting_records_created_at"), "meeting_records", ["created_at"], unique=False)
    op.create_index(
        "ix_meeting_records_user_id_created_at", "meeting_records", ["user_id", "created_at"], unique=False
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE INDEX ix_meeting_records_search ON meeting_records "
            "USING gin (to_tsvector('english', search_text))"
        )
    elif dialect == "sqlite":
        # FTS5 external-content index over search_text, kept in step by triggers.
        for statement in SQLITE_FTS:
            op.execute(statement)
    templates = op.create_table(
        "meeting_templates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("transcription_prompt", sa.Text(), nullable=True),
        sa.Column("summary_prompt", sa.Text(), nullable=True),
        sa.Column("key_points_prompt", sa.JSON(), nullable=False),
        sa.Column("speaker_diarization", sa.Text(), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_templates")),
    )
    op.create_index(
        op.f("ix_meeting_templates_created_by"), "meeting_templates", ["created_by"], unique=False
    )
    now = datetime(2026, 12, 1, tzinfo=UTC)
    op.bulk_insert(
        templates,
        [
            {
                **t,
                "created_by": None,
                "is_default": True,
                "is_active": True,
                "created_at": now,
                "updated_at": now,
            }
            for t in DEFAULT_TEMPLATES
        ],
    )
    op.create_table(
        "speaker_profiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("middle_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("designation", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("speaker_names", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speaker_profiles")),
    )
    op.create_index(op.f("ix_speaker_profiles_user_id"), "speaker_profiles", ["user_id"], unique=False)


def downgrade() -> None:
    """Drop the three tables (and their indexes)."""
    op.drop_index(op.f("ix_speaker_profiles_user_id"), table_name="speaker_profiles")
    op.drop_table("speaker_profiles")
    op.drop_index(op.f("ix_meeting_templates_created_by"), table_name="meeting_templates")
    op.drop_table("meeting_templates")
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_meeting_records_search")
    elif dialect == "sqlite":
        for name in ("meeting_records_fts_ai", "meeting_records_fts_ad", "meeting_records_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS meeting_records_fts")
    for name in ("user_id_created_at", "created_at", "analytics_status", "status", "user_id"):
        op.drop_index(f"ix_meeting_records_{name}", table_name="meeting_records")
    op.drop_table("meeting_records")
