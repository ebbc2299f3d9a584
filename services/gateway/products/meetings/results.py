"""What the meeting pipeline builds from results: the analysis ``template`` option and the
column values of a COMPLETED meeting."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.common.transcript import Transcript
from services.gateway.products.meetings.exports import clock
from services.gateway.products.meetings.models import MeetingRecord, MeetingTemplate


def template_options(row: MeetingTemplate | None, custom_points: str | None = None) -> dict[str, Any] | None:
    """The analysis ``template`` option from a template row and the user's custom points."""
    if row is None and not custom_points:
        return None
    points = list(row.key_points_prompt or []) if row else []
    points += [p.strip() for p in (custom_points or "").replace("\n", ",").split(",") if p.strip()]
    return {
        "id": row.id if row else "custom",
        "title": row.title if row else "Custom",
        "description": (row.description or "") if row else "",
        "summary_prompt": (row.summary_prompt or "") if row else "",
        "key_points_prompt": points,
        "keywords": list(row.keywords or []) if row else [],
    }


def completed_values(record: MeetingRecord, transcript: Transcript, result: dict[str, Any]) -> dict[str, Any]:
    """The column values of a COMPLETED meeting from its transcript and meeting analysis."""
    labels = {n["label"]: n["name"] for n in result.get("speaker_names", [])}
    segments: list[dict[str, Any]] = []
    for s in transcript.segments:
        text = s.text.strip()
        if not text:
            continue
        speaker = labels.get(s.speaker, s.speaker) if s.speaker else None
        segments.append(
            {
                "speaker": speaker,
                "text": text,
                "start_time": clock(s.start),
                "end_time": clock(s.end),
                "start": round(s.start, 2),
                "end": round(s.end, 2),
            }
        )
    speakers = [str(x) for x in dict.fromkeys(s["speaker"] for s in segments if s["speaker"])]
    items = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"earshot:meeting:{record.id}:item:{i}")),
            "task": item.get("task", ""),
            "assigned_to": item.get("assigned_to"),
            "due_date": item.get("due_date"),
            "status": "open",
        }
        for i, item in enumerate(result.get("action_items", []))
    ]
    points = result.get("key_points", [])
    values: dict[str, Any] = {
        "status": "COMPLETED",
        "analytics_status": "COMPLETED",
        "transcription": segments,
        "speakers": speakers,
        "speaker_labels": result.get("speaker_names", []),
        "summary": result.get("summary", ""),
        "key_points": "\n".join(f"{i + 1}. {p}" for i, p in enumerate(points)),
        "action_items": items,
        "analytics_data": result.get("analytics") or {},
        "language": result.get("language") or transcript.language,
        "duration_s": transcript.duration,
        "error": None,
        "is_processed": True,
        "completed_at": datetime.now(UTC),
    }
    if not (record.description or "").strip():
        values["description"] = result.get("description") or None
    if not (record.title or "").strip():
        values["title"] = (result.get("title") or "Meeting")[:300]
    doc = "\n".join(
        [
            values.get("title", record.title) or "",
            values.get("description", record.description) or "",
            " ".join(record.participants or []),
            " ".join(speakers),
            *(str(s["text"]) for s in segments),
        ]
    )
    values["search_text"] = doc
    return values
