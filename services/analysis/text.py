"""Text helpers shared by the analyzers: utterances, sentences, language, chunking.

- Sentences: ``segtok`` (rule-based splitter, ships with YAKE).
- Language: ``py3langid`` (Lui & Baldwin 2012, "langid.py: An Off-the-shelf Language
  Identification Tool", ACL; the model ships inside the package).
- Chunking: utterance lines are packed greedily under a token budget (estimated at ~4
  characters per token, :func:`services.analysis.providers.estimate_tokens`); a line longer
  than the budget is split on word boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from services.analysis.providers import estimate_tokens
from services.common.transcript import Transcript

WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")


@dataclass(frozen=True)
class Utterance:
    """One speaker turn (or one segment when speakers are unknown); times in seconds."""

    speaker: str | None
    text: str
    start: float
    end: float


def utterances(transcript: Transcript) -> list[Utterance]:
    """Consecutive segments of one speaker (or all unlabelled ones) merged into turns, so a
    sentence a recogniser cut in two is whole again; blank segments dropped."""
    out: list[Utterance] = []
    for seg in transcript.segments:
        text = seg.text.strip() or " ".join(w.word.strip() for w in seg.words).strip()
        if not text:
            continue
        if out and out[-1].speaker == seg.speaker:
            last = out[-1]
            out[-1] = Utterance(last.speaker, f"{last.text} {text}", last.start, seg.end)
        else:
            out.append(Utterance(seg.speaker, text, seg.start, seg.end))
    if not out and transcript.text.strip():
        out.append(Utterance(None, transcript.text.strip(), 0.0, transcript.duration))
    return out


def transcript_lines(transcript: Transcript) -> list[str]:
    """``"Speaker: text"`` lines (``"text"`` when the speaker is unknown), one per turn."""
    return [f"{u.speaker}: {u.text}" if u.speaker else u.text for u in utterances(transcript)]


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (segtok's ``split_single``), stripped, blanks dropped."""
    from segtok.segmenter import split_single

    return [s.strip() for s in split_single(text.strip()) if s.strip()]


def words(text: str) -> list[str]:
    """Word tokens (letters/digits with inner apostrophes), original case."""
    return WORD_RE.findall(text)


@lru_cache(maxsize=1)
def _identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> tuple[str, float]:
    """ISO 639-1 code of ``text`` and its probability (``("und", 0.0)`` for no words)."""
    if not words(text):
        return "und", 0.0
    code, prob = _identifier().classify(text)
    return str(code), round(float(prob), 3)


def chunk_lines(lines: list[str], budget_tokens: int) -> list[str]:
    """Pack ``lines`` into newline-joined chunks of at most ``budget_tokens`` estimated tokens.

    Raises:
        ValueError: for a budget under 16 tokens.
    """
    if budget_tokens < 16:
        raise ValueError("budget_tokens must be at least 16")
    pieces: list[str] = []
    for line in lines:
        if estimate_tokens(line) <= budget_tokens:
            pieces.append(line)
            continue
        current: list[str] = []
        for token in line.split():
            if current and estimate_tokens(" ".join([*current, token])) > budget_tokens:
                pieces.append(" ".join(current))
                current = []
            current.append(token)
        if current:
            pieces.append(" ".join(current))
    chunks: list[str] = []
    current_lines: list[str] = []
    for piece in pieces:
        candidate = "\n".join([*current_lines, piece])
        if current_lines and estimate_tokens(candidate) > budget_tokens:
            chunks.append("\n".join(current_lines))
            current_lines = [piece]
        else:
            current_lines.append(piece)
    if current_lines:
        chunks.append("\n".join(current_lines))
    return chunks
