"""Speaker naming and conversation analytics of a diarized meeting transcript (seed 003).

**Naming** (:func:`name_speakers`) maps diarization labels (``SPEAKER_00``...) to people's
names from what is said, a rule-based form of the "speaker identification from transcripts"
cues of Canseco et al. 2005 ("A comparative study using manual and automatic transcriptions
for diarization", ASRU: self-introductions, addresses, thanks). Evidence, as votes for a
(label, name) pair:

- a **self-introduction** by the label ("I'm Sheila", "I am Sheila", "my name is Sheila",
  "this is Diane" at the start of a turn, "Diane here"): 3 votes;
- an **address** ("Marcus, please ...", "Marcus, can you ...", "Marcus?" at the start of a
  sentence, or "Great, Marcus, can you ..." -- a name set off by commas before a request or
  question anywhere) gives 1 vote to the *next* turn's speaker when it is another label;
- **thanks** ("Thanks Alice", "Thank you, Alice") gives 1 vote to the *previous* turn's
  speaker when it is another label.

When ``participants`` are given, only names matching one of them (case-insensitive,
``difflib`` ratio >= 0.75 on the first name) count, and they are written as the participant
list spells them. **Confidence rule**: pairs are taken greedily by votes (each label and each
name once); a pair is accepted when its votes are at least half of all the label's votes
(``confidence = votes(label, name) / votes(label, *)`` >= 0.5). Then, with participants,
**elimination**: when exactly one label and exactly one participant remain unmatched, they
are paired with confidence 0.5. Every other label becomes ``Speaker 1``, ``Speaker 2``...
numbered by first appearance. Labels that are not diarization labels (not ``SPEAKER_NN``:
names a provider or a user already gave) are kept as they are.

**Analytics** (:func:`meeting_analytics`): per speaker talk time (s) and share of all talk,
words, words per minute of their own talk time, turns, questions asked (sentences ending
in "?"); for the meeting: turns, interruptions (a change of speaker whose turn starts
before the previous one ended, credited to the new speaker), the longest monologue
(speaker, seconds), the silence ratio (share of the recording with nobody's segment), the
overall words per minute over the recording's duration.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from typing import Any

from services.analysis.text import split_sentences, utterances, words
from services.common.analysis_results import SpeakerName
from services.common.transcript import Segment, Transcript

_NAME = r"(?P<name>[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)"
SELF_INTRO = (
    re.compile(rf"\b(?:I'm|I’m|I am|my name is|My name is)\s+{_NAME}\b"),
    re.compile(rf"^\s*(?:Hi|Hello|Hey)?[,\s]*(?:this is|This is|it's|It's)\s+{_NAME}\b"),
    re.compile(rf"^\s*{_NAME}\s+here\b"),
)
ADDRESS = re.compile(rf"^\s*(?:(?:ok|okay|so|and|now|right)[,\s]+)?{_NAME}\s*(?:,|\?)", re.I)
#: "Great, Bob, can you ...": a name set off by commas before a request or question, anywhere.
ADDRESS_REQUEST = re.compile(
    rf"(?:^|[,;:]\s*){_NAME}\s*,\s*(?i:can|could|would|will|please|do|did|are|have|what|how|when|why|any)\b"
)
THANKS = re.compile(rf"\b(?:thanks|thank you)[,\s]+{_NAME}\b", re.I)

#: Capitalised words that start sentences but are no names.
NOT_NAMES = frozenset(
    """yes no so and but okay ok well thanks thank great also then now first for right sure good
    hi hello hey the this that we i you it what why how when where who please sorry everyone all
    morning afternoon evening today tomorrow here there going glad happy sure fine just not""".split()
)

DIARIZATION_LABEL = re.compile(r"^SPEAKER_\d+$")
SELF_VOTES = 3
ADDRESS_VOTES = 1


def generic_name(index: int) -> str:
    """``Speaker 1`` for ``index`` 0 (the seed's names for unknown speakers)."""
    return f"Speaker {index + 1}"


def _canon(name: str, participants: list[str]) -> str | None:
    """``name`` as the participant list spells it (None when no participant matches), or
    ``name`` itself without participants; words that are no names give None."""
    if name.lower() in NOT_NAMES:
        return None
    if not participants:
        return name
    best, best_ratio = None, 0.0
    for person in participants:
        first = person.split()[0] if person.split() else person
        for candidate in (person, first):
            ratio = difflib.SequenceMatcher(None, name.lower(), candidate.lower()).ratio()
            if ratio > best_ratio:
                best, best_ratio = person, ratio
    return best if best_ratio >= 0.75 else None


def name_speakers(transcript: Transcript, participants: list[str] | None = None) -> list[SpeakerName]:
    """Names for the transcript's speaker labels (see the module docstring for the rule).

    Args:
        transcript: segments labelled by diarization (unlabelled segments are ignored).
        participants: names the user listed for the meeting, if any.

    Returns:
        One :class:`SpeakerName` per label, in order of first appearance.
    """
    people = [p.strip() for p in (participants or []) if p and p.strip()]
    turns = [u for u in utterances(transcript) if u.speaker]
    labels = list(dict.fromkeys(u.speaker for u in turns if u.speaker))
    votes: dict[tuple[str, str], int] = defaultdict(int)
    evidence: dict[tuple[str, str], list[str]] = defaultdict(list)

    def vote(label: str | None, raw: str, weight: int, cue: str) -> None:
        name = _canon(raw, people)
        if label and name:
            votes[(label, name)] += weight
            evidence[(label, name)].append(cue)

    for i, turn in enumerate(turns):
        prev = turns[i - 1] if i > 0 else None
        nxt = next((t for t in turns[i + 1 :] if t.speaker != turn.speaker), None)
        for s_index, sentence in enumerate(split_sentences(turn.text)):
            for pattern in SELF_INTRO:
                if pattern.pattern.startswith("^") and s_index > 0:
                    continue
                for m in pattern.finditer(sentence):
                    vote(turn.speaker, m.group("name"), SELF_VOTES, f"self-introduction: {m.group(0)!r}")
            if nxt is not None:
                named = {m.group("name") for m in ADDRESS_REQUEST.finditer(sentence)}
                start = ADDRESS.match(sentence)
                if start:
                    named.add(start.group("name"))
                for name in sorted(named):
                    vote(nxt.speaker, name, ADDRESS_VOTES, f"addressed: {sentence[:60]!r}")
            for m in THANKS.finditer(sentence):
                if prev is not None and prev.speaker != turn.speaker:
                    vote(prev.speaker, m.group("name"), ADDRESS_VOTES, f"thanked: {m.group(0)!r}")

    totals: dict[str, int] = defaultdict(int)
    for (label, _name), n in votes.items():
        totals[label] += n
    chosen: dict[str, SpeakerName] = {
        label: SpeakerName(label=label, name=label, confidence=1.0, evidence=["named by the transcript"])
        for label in labels
        if not DIARIZATION_LABEL.match(label)
    }
    used: set[str] = {c.name for c in chosen.values()}
    for (label, name), n in sorted(votes.items(), key=lambda kv: (-kv[1], labels.index(kv[0][0]))):
        if label in chosen or name in used:
            continue
        confidence = n / totals[label]
        if confidence >= 0.5:
            chosen[label] = SpeakerName(
                label=label, name=name, confidence=round(confidence, 3), evidence=evidence[(label, name)]
            )
            used.add(name)
    free_labels = [label for label in labels if label not in chosen]
    free_people = [p for p in people if p not in used]
    if len(free_labels) == 1 and len(free_people) == 1:
        chosen[free_labels[0]] = SpeakerName(
            label=free_labels[0], name=free_people[0], confidence=0.5, evidence=["the only participant left"]
        )
    out: list[SpeakerName] = []
    generic = 0
    for label in labels:
        if label in chosen:
            out.append(chosen[label])
        else:
            out.append(SpeakerName(label=label, name=generic_name(generic), confidence=0.0))
            generic += 1
    return out


def relabel(transcript: Transcript, names: dict[str, str]) -> Transcript:
    """A copy of ``transcript`` whose segment speakers are renamed by ``names`` (label -> name)."""
    segments = [
        Segment(
            id=s.id,
            start=s.start,
            end=s.end,
            text=s.text,
            speaker=names.get(s.speaker, s.speaker) if s.speaker else s.speaker,
            words=s.words,
        )
        for s in transcript.segments
    ]
    return Transcript(
        language=transcript.language, duration=transcript.duration, text=transcript.text, segments=segments
    )


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def meeting_analytics(transcript: Transcript) -> dict[str, Any]:
    """Talk-time analytics of a diarized transcript (see the module docstring).

    Returns:
        ``{duration_s, speech_s, silence_ratio, total_words, words_per_minute, turns,
        interruptions, questions, longest_monologue: {speaker, duration_s} | None,
        speakers: [{speaker, talk_time_s, talk_share, words, words_per_minute, turns,
        questions, interruptions}]}`` with seconds rounded to 0.01 and shares to 0.001.
    """
    turns = utterances(transcript)
    per: dict[str, dict[str, Any]] = {}
    interruptions = 0
    longest: tuple[str, float] | None = None
    for i, turn in enumerate(turns):
        who = turn.speaker or "Unknown"
        stats = per.setdefault(
            who,
            {"speaker": who, "talk_time_s": 0.0, "words": 0, "turns": 0, "questions": 0, "interruptions": 0},
        )
        length = max(0.0, turn.end - turn.start)
        stats["talk_time_s"] += length
        stats["words"] += len(words(turn.text))
        stats["turns"] += 1
        stats["questions"] += sum(1 for s in split_sentences(turn.text) if s.endswith("?"))
        if i > 0 and turns[i - 1].speaker != turn.speaker and turn.start < turns[i - 1].end - 0.05:
            stats["interruptions"] += 1
            interruptions += 1
        if longest is None or length > longest[1]:
            longest = (who, length)
    total_talk = sum(s["talk_time_s"] for s in per.values())
    duration = max(transcript.duration, max((t.end for t in turns), default=0.0))
    speech = _union_length([(s.start, s.end) for s in transcript.segments if s.end > s.start])
    total_words = sum(s["words"] for s in per.values())
    speakers = []
    for s in per.values():
        minutes = s["talk_time_s"] / 60
        speakers.append(
            {
                **s,
                "talk_time_s": round(s["talk_time_s"], 2),
                "talk_share": round(s["talk_time_s"] / total_talk, 3) if total_talk else 0.0,
                "words_per_minute": round(s["words"] / minutes, 1) if minutes else 0.0,
            }
        )
    speakers.sort(key=lambda s: -s["talk_time_s"])
    return {
        "duration_s": round(duration, 2),
        "speech_s": round(speech, 2),
        "silence_ratio": round(max(0.0, 1 - speech / duration), 3) if duration else 0.0,
        "total_words": total_words,
        "words_per_minute": round(total_words / (duration / 60), 1) if duration else 0.0,
        "turns": len(turns),
        "interruptions": interruptions,
        "questions": sum(s["questions"] for s in per.values()),
        "longest_monologue": (
            {"speaker": longest[0], "duration_s": round(longest[1], 2)} if longest is not None else None
        ),
        "speakers": speakers,
    }
