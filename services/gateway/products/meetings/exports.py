"""Exports of one meeting (``GET /meetings/{id}/export?format=...``): the transcript with
speakers and times, the summary, key points and action items.

- ``md``: Markdown (CommonMark headings, lists, ``**speaker**`` lines);
- ``json``: the meeting record as the API answers it;
- ``srt`` / ``vtt``: subtitles, one cue per segment (:mod:`services.common.subtitles`:
  SubRip and W3C WebVTT, the speaker as ``[name]`` / a ``<v name>`` voice span);
- ``txt``: plain text;
- ``docx``: Office Open XML (ECMA-376) written by ``python-docx``.
"""

from __future__ import annotations

import io
import json
from typing import Any, Literal

from services.common.subtitles import to_srt, to_vtt
from services.common.transcript import Segment, Transcript

ExportFormat = Literal["md", "json", "srt", "vtt", "txt", "docx"]

MEDIA_TYPES: dict[str, str] = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def clock(seconds: float) -> str:
    """``M:SS`` (or ``H:MM:SS`` from one hour), the seed's transcript time format."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _transcript(record: dict[str, Any]) -> Transcript:
    segments = [
        Segment(
            id=i,
            start=float(s.get("start", 0.0)),
            end=float(s.get("end", 0.0)),
            text=str(s.get("text", "")),
            speaker=s.get("speaker"),
        )
        for i, s in enumerate(record.get("transcription") or [])
    ]
    return Transcript(
        duration=float(record.get("duration_s") or 0.0),
        text=" ".join(s.text for s in segments),
        segments=segments,
    )


def _items(record: dict[str, Any]) -> list[str]:
    out = []
    for item in record.get("action_items") or []:
        line = str(item.get("task", ""))
        if item.get("assigned_to"):
            line += f" ({item['assigned_to']})"
        if item.get("due_date"):
            line += f", due {item['due_date']}"
        if item.get("status") == "done":
            line += " [done]"
        out.append(line)
    return out


def _key_points(record: dict[str, Any]) -> list[str]:
    text = record.get("key_points") or ""
    return [
        line.split(". ", 1)[-1] if line[:1].isdigit() else line for line in text.splitlines() if line.strip()
    ]


def to_markdown(record: dict[str, Any]) -> str:
    """The meeting as Markdown."""
    lines = [f"# {record.get('title', 'Meeting')}", ""]
    if record.get("description"):
        lines += [str(record["description"]), ""]
    if record.get("participants"):
        lines += [f"**Participants:** {', '.join(record['participants'])}", ""]
    lines += ["## Summary", "", str(record.get("summary") or ""), "", "## Key points", ""]
    lines += [f"- {p}" for p in _key_points(record)] + ["", "## Action items", ""]
    lines += [f"- [{'x' if 'done]' in i else ' '}] {i}" for i in _items(record)] + ["", "## Transcript", ""]
    for s in record.get("transcription") or []:
        lines.append(
            f"**{s.get('speaker') or 'Unknown'}** ({s.get('start_time', '')}): {s.get('text', '')}  "
        )
    return "\n".join(lines).rstrip() + "\n"


def to_plain_text(record: dict[str, Any]) -> str:
    """The meeting as plain text."""
    lines = [str(record.get("title", "Meeting")), ""]
    lines += ["Summary:", str(record.get("summary") or ""), "", "Key points:"]
    lines += [f"- {p}" for p in _key_points(record)] + ["", "Action items:"]
    lines += [f"- {i}" for i in _items(record)] + ["", "Transcript:"]
    for s in record.get("transcription") or []:
        lines.append(f"[{s.get('start_time', '')}] {s.get('speaker') or 'Unknown'}: {s.get('text', '')}")
    return "\n".join(lines) + "\n"


def to_docx(record: dict[str, Any]) -> bytes:
    """The meeting as a Word document (python-docx)."""
    from docx import Document

    doc = Document()
    doc.add_heading(str(record.get("title", "Meeting")), level=0)
    if record.get("description"):
        doc.add_paragraph(str(record["description"]))
    if record.get("participants"):
        doc.add_paragraph("Participants: " + ", ".join(record["participants"]))
    doc.add_heading("Summary", level=1)
    doc.add_paragraph(str(record.get("summary") or ""))
    doc.add_heading("Key points", level=1)
    for p in _key_points(record):
        doc.add_paragraph(p, style="List Bullet")
    doc.add_heading("Action items", level=1)
    for i in _items(record):
        doc.add_paragraph(i, style="List Bullet")
    doc.add_heading("Transcript", level=1)
    for s in record.get("transcription") or []:
        para = doc.add_paragraph()
        para.add_run(f"{s.get('speaker') or 'Unknown'} ({s.get('start_time', '')}): ").bold = True
        para.add_run(str(s.get("text", "")))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def render(record: dict[str, Any], fmt: ExportFormat) -> bytes:
    """The meeting ``record`` (the API's JSON shape) in ``fmt``, as bytes.

    Raises:
        ValueError: for an unknown format.
    """
    if fmt == "md":
        return to_markdown(record).encode()
    if fmt == "json":
        return json.dumps(record, ensure_ascii=False, indent=2).encode()
    if fmt == "srt":
        return to_srt(_transcript(record)).encode()
    if fmt == "vtt":
        return to_vtt(_transcript(record)).encode()
    if fmt == "txt":
        return to_plain_text(record).encode()
    if fmt == "docx":
        return to_docx(record)
    raise ValueError(f"unknown export format {fmt!r}")
