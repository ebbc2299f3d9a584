"""Resume extraction for the interview coach (seed 001 ``/api/extract-resume``).

Input is the uploaded file's bytes; its type is *sniffed* from its content, never from the
file name:

- **PDF** (``%PDF-``): text from every page with ``pypdf``. A PDF that needs a password is
  refused (``encrypted_pdf``; one that opens with the empty user password, i.e. carries only
  owner restrictions, is read). A PDF with no text layer (a scan: fewer than
  :data:`MIN_TEXT_CHARS` letters) is refused with ``no_text_layer`` (no OCR is offered).
- **DOCX** (a ZIP holding ``word/document.xml``): paragraphs and table cells with
  ``python-docx``.
- **Plain text**: UTF-8 (BOM allowed), UTF-16 with a BOM, else Windows-1252 when it decodes
  to printable text; a file with NUL bytes or mostly control characters is not text.
- Images (PNG, JPEG, GIF, TIFF, WebP, BMP) and anything else: ``unsupported_type``.

From the text (:func:`parse_resume`):

- ``skills``: normalised against the skills vocabulary (:mod:`services.analysis.skills`).
- ``years_experience``: the date ranges of the experience section (``Jan 2018 - Mar 2020``,
  ``06/2019 – present``, ``2015 to 2017``); ranges are merged so overlapping jobs count once;
  months are counted inclusively (``Jan 2020 - Dec 2020`` is 12 months). Ranges in the
  education section are ignored. With no ranges, the largest ``"N years"`` phrase is used.
- ``education``: lines naming a degree (Bachelor, Master, B.Sc, M.S., PhD, MBA, B.Tech...).
- ``roles``: job-title lines of the experience section (engineer, scientist, analyst,
  developer, manager...).

Errors are :class:`ResumeError` (a ``ValueError``) with a machine ``code`` and a ``details``
sentence; the gateway answers them as 4xx (413 for ``too_large``, 422 otherwise).
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from services.analysis.skills import knowledge_set, normalise_skills

MAX_RESUME_BYTES = 5 * 1024 * 1024
MIN_TEXT_CHARS = 20

ResumeKind = Literal["pdf", "docx", "text"]


class ResumeError(ValueError):
    """A file that cannot be read as a resume.

    Attributes:
        code: ``empty_file``, ``too_large``, ``unsupported_type``, ``encrypted_pdf``,
            ``no_text_layer`` or ``corrupt_file``.
        details: one human sentence.
    """

    def __init__(self, code: str, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class ExperienceRange(BaseModel):
    """One date range found in the experience section (months as ``YYYY-MM``)."""

    start: str
    end: str
    months: int = Field(ge=1)
    line: str


class ResumeFields(BaseModel):
    """What :func:`parse_resume` finds in a resume's text."""

    skills: list[str]
    years_experience: float | None
    education: list[str]
    roles: list[str]
    experience: list[ExperienceRange]


class ResumeExtraction(ResumeFields):
    """A parsed resume: its kind, text, SHA-256 of the text, pages and knowledge set."""

    kind: ResumeKind
    text: str
    text_sha256: str
    pages: int | None = None
    knowledge_set: dict[str, list[str]]


# --------------------------------------------------------------------------- file types

_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
)


def sniff_resume(data: bytes) -> ResumeKind:
    """The kind of a resume file from its first bytes.

    Raises:
        ResumeError: ``empty_file`` or ``unsupported_type`` (an image, an archive, binary data).
    """
    if not data.strip():
        raise ResumeError("empty_file", "the file is empty")
    head = data[:16]
    if data.lstrip()[:5] == b"%PDF-":
        return "pdf"
    for magic, what in _IMAGES:
        if head.startswith(magic):
            raise ResumeError(
                "unsupported_type",
                f"the file is {what}, not a document; upload a PDF with a text layer, a .docx or plain text",
            )
    if head[:4] == b"RIFF" and data[8:12] == b"WEBP":
        raise ResumeError("unsupported_type", "the file is a WebP image, not a document")
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return "docx"
        except zipfile.BadZipFile:
            pass
        raise ResumeError("unsupported_type", "the file is a ZIP archive but not a .docx document")
    if _decode_text(data) is None:
        raise ResumeError(
            "unsupported_type", "the file is neither a PDF, a .docx nor plain text (binary content)"
        )
    return "text"


def _printable(text: str) -> bool:
    if not text:
        return False
    bad = sum(1 for c in text if not (c.isprintable() or c in "\n\r\t\f"))
    return bad / len(text) < 0.02


def _decode_text(data: bytes) -> str | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return None
        return text if _printable(text) else None
    if b"\x00" in data:
        return None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text if _printable(text) else None
    return None


def _pdf_text(data: bytes) -> tuple[str, int]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))
            except Exception:  # noqa: BLE001 - any failure to open means "needs a password"
                opened = False
            if not opened:
                raise ResumeError(
                    "encrypted_pdf", "the PDF is protected by a password; upload an unprotected copy"
                )
        pages = [page.extract_text() or "" for page in reader.pages]
    except ResumeError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ResumeError("corrupt_file", f"the PDF cannot be read: {exc}") from exc
    return "\n".join(pages), len(pages)


def _docx_text(data: bytes) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many types for a bad file
        raise ResumeError("corrupt_file", f"the .docx document cannot be read: {exc}") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(lines)


def extract_text(data: bytes) -> tuple[ResumeKind, str, int | None]:
    """``(kind, text, pages)`` of a resume file (pages only for a PDF).

    Raises:
        ResumeError: ``empty_file``, ``too_large`` (over :data:`MAX_RESUME_BYTES`),
            ``unsupported_type``, ``encrypted_pdf``, ``no_text_layer``, ``corrupt_file``.
    """
    if len(data) > MAX_RESUME_BYTES:
        raise ResumeError("too_large", f"the file is over {MAX_RESUME_BYTES // (1024 * 1024)} MB")
    kind = sniff_resume(data)
    pages: int | None = None
    if kind == "pdf":
        text, pages = _pdf_text(data)
    elif kind == "docx":
        text = _docx_text(data)
    else:
        text = _decode_text(data) or ""
    text = text.replace("\x00", "").strip()
    letters = sum(1 for c in text if c.isalpha())
    if letters < MIN_TEXT_CHARS:
        if kind == "pdf":
            raise ResumeError(
                "no_text_layer",
                "the PDF has no text layer (a scanned image?); upload a PDF with selectable text, "
                "a .docx or plain text",
            )
        raise ResumeError("empty_file", f"the {kind} file holds no text to read")
    return kind, text, pages


# --------------------------------------------------------------------------- fields

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        )
    )
    for m in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = rf"(?:(?:{_MONTH_RE})\.?,?\s+\d{{4}}|\d{{1,2}}/\d{{4}}|\d{{4}})"
_END = rf"(?:{_DATE}|present|current|now|today|ongoing|date)"
_RANGE = re.compile(rf"({_DATE})\s*(?:-|–|—|to|until|till)\s*({_END})", re.I)

_HEADINGS = {
    "experience": (
        "experience",
        "work experience",
        "professional experience",
        "employment",
        "employment history",
        "work history",
        "career",
    ),
    "education": ("education", "academic background", "academics", "qualifications"),
    "other": (
        "skills",
        "technical skills",
        "projects",
        "certifications",
        "summary",
        "profile",
        "publications",
        "awards",
        "languages",
        "interests",
        "contact",
        "objective",
    ),
}
_DEGREE = re.compile(
    r"\b(?:bachelor'?s?|master'?s?|ph\.?\s?d\.?|doctorate|mba|b\.?\s?sc\.?|m\.?\s?sc\.?|b\.?\s?tech|"
    r"m\.?\s?tech|b\.?e\.|m\.?e\.|b\.?a\.|m\.?a\.|b\.?s\.|m\.?s\.|diploma|associate degree)(?![a-z])",
    re.I,
)
_TITLE = re.compile(
    r"\b(?:engineer|scientist|developer|analyst|manager|architect|consultant|researcher|intern|"
    r"director|lead|programmer|designer|product owner|administrator|specialist|head of)\b",
    re.I,
)


def _month_index(text: str, today: date, is_end: bool) -> int | None:
    t = text.strip().lower().rstrip(".")
    if t in ("present", "current", "now", "today", "ongoing", "date"):
        return today.year * 12 + today.month - 1
    m = re.fullmatch(rf"({_MONTH_RE})\.?,?\s+(\d{{4}})", t)
    if m:
        return int(m.group(2)) * 12 + _MONTHS[m.group(1)] - 1
    m = re.fullmatch(r"(\d{1,2})/(\d{4})", t)
    if m and 1 <= int(m.group(1)) <= 12:
        return int(m.group(2)) * 12 + int(m.group(1)) - 1
    m = re.fullmatch(r"\d{4}", t)
    if m:
        # a bare year: from January, or to December when it ends a range
        return int(t) * 12 + (11 if is_end else 0)
    return None


def _heading(line: str) -> str | None:
    key = re.sub(r"[^a-z ]", "", line.lower()).strip()
    if not key or len(line) > 40:
        return None
    for section, names in _HEADINGS.items():
        if key in names:
            return section
    return None


def _sections(lines: list[str]) -> list[str]:
    """The section of each line (``experience``, ``education``, ``other`` or ``none``)."""
    current = "none"
    out = []
    for line in lines:
        current = _heading(line) or current
        out.append(current)
    return out


def _merged_months(spans: list[tuple[int, int]]) -> int:
    total = 0
    last_end = -1
    start_run = -1
    for start, end in sorted(spans):
        if start > last_end + 1:
            if last_end >= 0:
                total += last_end - start_run + 1
            start_run, last_end = start, end
        else:
            last_end = max(last_end, end)
    if last_end >= 0:
        total += last_end - start_run + 1
    return total


def parse_resume(text: str, today: date | None = None) -> ResumeFields:
    """Skills, years of experience, education and roles of a resume's text (see the module
    docstring); ``today`` ends the ranges that run to "present" (default: today)."""
    today = today or date.today()
    lines = [line.strip() for line in text.splitlines()]
    sections = _sections(lines)
    has_experience_heading = "experience" in sections
    ranges: list[ExperienceRange] = []
    spans: list[tuple[int, int]] = []
    for line, section in zip(lines, sections, strict=True):
        if section == "education" or (not has_experience_heading and _DEGREE.search(line)):
            continue
        if has_experience_heading and section != "experience":
            continue
        for m in _RANGE.finditer(line):
            start = _month_index(m.group(1), today, False)
            end = _month_index(m.group(2), today, True)
            if start is None or end is None or end < start or start < 1950 * 12:
                continue
            spans.append((start, end))
            ranges.append(
                ExperienceRange(
                    start=f"{start // 12:04d}-{start % 12 + 1:02d}",
                    end=f"{end // 12:04d}-{end % 12 + 1:02d}",
                    months=end - start + 1,
                    line=line[:200],
                )
            )
    years: float | None = None
    if spans:
        years = round(_merged_months(spans) / 12, 1)
    else:
        stated = [
            float(m) for m in re.findall(r"(\d+(?:\.\d+)?)\+?\s*(?:years|yrs)\b", text, re.I) if float(m) < 60
        ]
        years = max(stated) if stated else None
    education = list(
        dict.fromkeys(
            line[:200]
            for line, section in zip(lines, sections, strict=True)
            if _DEGREE.search(line) and section in ("education", "none")
        )
    )
    roles = list(
        dict.fromkeys(
            re.split(r"\s+(?:at|@)\s+|\s*[|,–—]\s*|\s+-\s+", line)[0].strip()[:120]
            for line, section in zip(lines, sections, strict=True)
            if section in ("experience", "none")
            and _TITLE.search(line)
            and len(line) <= 160
            and not _DEGREE.search(line)
        )
    )
    return ResumeFields(
        skills=normalise_skills(text),
        years_experience=years,
        education=education[:10],
        roles=[r for r in roles if r][:10],
        experience=ranges,
    )


def extract_resume(data: bytes, today: date | None = None) -> ResumeExtraction:
    """Read a resume file and parse it (see the module docstring).

    Raises:
        ResumeError: the file is empty, too large, not a supported type, a PDF needing a
            password or with no text layer, or damaged.
    """
    kind, text, pages = extract_text(data)
    fields = parse_resume(text, today)
    return ResumeExtraction(
        **fields.model_dump(),
        kind=kind,
        text=text,
        text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        pages=pages,
        knowledge_set=knowledge_set(fields.skills),
    )
