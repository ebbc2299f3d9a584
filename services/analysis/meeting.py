"""Meeting analysis (seed 003): summary, key points, action items, title, description and a
template suggestion, local or provider-backed.

Local analyzer (:class:`LocalMeetingAnalyzer`), deterministic and explainable:

- **Summary**: TextRank (Mihalcea & Tarau 2004, "TextRank: Bringing Order into Texts",
  EMNLP) over sentences: edge weight ``|common content words| / (log|S_i| + log|S_j|)``,
  ranked with ``networkx.pagerank`` (damping 0.85). With a template, the ranking is a
  *personalised* PageRank whose teleport vector favours sentences sharing words with the
  template's ``summary_prompt`` and ``key_points_prompt``. The top ``max(2, min(5,
  round(n/4)))`` sentences are returned in their original order.
- **Keyphrases**: YAKE (Campos et al. 2020, "YAKE! Keyword extraction from single documents
  using multiple local features", Information Sciences; the ``yake`` package), 1-3 words,
  greetings and speaker names removed, a phrase inside a better one dropped.
- **Key points**: the best sentence for each of the top keyphrases; with a template, one
  point per ``key_points_prompt`` entry (the sentence sharing most words with it).
- **Action items**: commitment and request patterns per sentence -- "I will / I'll / I'm
  going to X" (owner: the speaker), "Name, can you / could you / please X" and "Name will X"
  (owner: Name, matched to a known speaker name when close; an unknown name -- often a
  misrecognised one -- goes to the next speaker when they answer "yes/sure/ok..."), "let's X" with a task verb
  (owner: the speaker), "we need to / we will X" (no owner). Due dates: the phrase after
  by/before/on/until (or a bare weekday, "tomorrow", "next week"...) parsed by ``dateparser``
  relative to the meeting date, preferring future dates; "end of the week/month" resolved
  here. Items of one owner with similar tasks (word Jaccard >= 0.4) are merged, keeping
  the longer task and the earlier due date.
- **Template suggestion**: each template's keywords (given, or the content words of its
  title, description and prompts) counted in the transcript; ``confidence = 0.25 + 0.7 *
  share of all hits``, capped at 0.95; alternatives are the next two with any hit.

The provider-backed analyzer (:class:`LLMMeetingAnalyzer`) asks the model for the same
fields with the template's prompts in its instructions, chunking a transcript over the
model's context window (map: per chunk; reduce: summaries joined and summarised again,
action items and key points concatenated and de-duplicated).
"""

from __future__ import annotations

import asyncio
import difflib
import math
import re
import uuid
from abc import ABC, abstractmethod
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field

from services.analysis.providers import StructuredProvider, estimate_tokens
from services.analysis.speakers import meeting_analytics, name_speakers, relabel
from services.analysis.text import (
    Utterance,
    chunk_lines,
    detect_language,
    split_sentences,
    transcript_lines,
    utterances,
    words,
)
from services.common.analysis_results import (
    ActionItem,
    AlternativeTemplate,
    MeetingAnalysis,
    MeetingRequest,
    SpeakerName,
    Template,
    TemplateSuggestion,
)
from services.common.transcript import Transcript

# --------------------------------------------------------------------------- models


def _tid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"earshot:template:{name}"))


#: System-wide default templates (seed 003: "Default Templates: pre-configured templates
#: for common scenarios").
DEFAULT_TEMPLATES: tuple[Template, ...] = (
    Template(
        id=_tid("team-meeting"),
        title="Team Meeting",
        description="Status updates, decisions and owners for a recurring team sync",
        summary_prompt="Summarise the status of each topic, the decisions made and who owns the next steps.",
        key_points_prompt=["Status updates", "Decisions", "Next steps"],
        keywords=[
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
    ),
    Template(
        id=_tid("sales-call"),
        title="Sales Call",
        description="A conversation with a prospect about a product, its price and next steps",
        summary_prompt="Summarise the customer's needs, the product discussed, objections and pricing.",
        key_points_prompt=["Product discussed", "Price mentioned", "Next steps"],
        keywords=[
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
    ),
    Template(
        id=_tid("customer-support"),
        title="Customer Support",
        description="A customer reports a problem and support works towards a fix",
        summary_prompt="Summarise the customer's issue, the troubleshooting done and the resolution.",
        key_points_prompt=["Issue reported", "Troubleshooting steps", "Resolution"],
        keywords=[
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
    ),
    Template(
        id=_tid("job-interview"),
        title="Job Interview",
        description="A candidate interview: experience, skills and fit",
        summary_prompt=(
            "Summarise the candidate's experience, strengths, concerns and the hiring recommendation."
        ),
        key_points_prompt=["Experience", "Strengths", "Concerns"],
        keywords=[
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
    ),
    Template(
        id=_tid("project-planning"),
        title="Project Planning",
        description="Scope, milestones, risks and responsibilities of a project",
        summary_prompt="Summarise the scope, milestones, risks and owners.",
        key_points_prompt=["Scope", "Milestones", "Risks"],
        keywords=[
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
    ),
    Template(
        id=_tid("one-on-one"),
        title="One-on-One",
        description="A manager and a report talk about progress, feedback, goals and growth",
        summary_prompt="Summarise the progress discussed, the feedback given both ways and the agreed goals.",
        key_points_prompt=["Progress", "Feedback", "Goals"],
        keywords=[
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
    ),
    Template(
        id=_tid("lecture"),
        title="Lecture",
        description="A talk or class that teaches concepts",
        summary_prompt="Summarise the main concepts explained and the examples given.",
        key_points_prompt=["Main concepts", "Examples", "Takeaways"],
        keywords=[
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
    ),
    Template(
        id=_tid("general"),
        title="General",
        description="Any conversation: a neutral summary, the main points and the follow-ups",
        summary_prompt="Summarise what was discussed and decided.",
        key_points_prompt=["Main topics", "Decisions", "Follow-ups"],
        keywords=["discuss", "meeting", "conversation", "talk"],
    ),
)


# --------------------------------------------------------------------------- shared bits

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just let lets let's me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves yes yeah okay ok i'll i'm
    we'll we're you're it's that's don't can't won't great thanks thank""".split()
)
COURTESY = frozenset(
    "good morning afternoon evening everyone hello hi thanks thank today bye great please".split()
)

_DAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?"
    r"|sep(?:tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
DATE_PHRASE = re.compile(
    rf"\b(?:(?P<prep>by|before|on|until|till|due|no later than)\s+)?"
    rf"(?P<when>(?:the\s+)?end\s+of\s+(?:the\s+|this\s+|next\s+)?(?:day|week|month)"
    rf"|today|tonight|tomorrow(?:\s+(?:morning|afternoon|evening))?"
    rf"|(?:next|this)\s+(?:week|month|{_DAY})"
    rf"|in\s+(?:\d+|a|one|two|three|four|five|six|seven|ten)\s+(?:days?|weeks?|months?)"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|{_DAY}(?:\s+(?:morning|afternoon|evening))?)\b",
    re.I,
)

_TASK_END = r"(?P<task>[^.?!;]+)"
COMMITMENT = re.compile(
    rf"\b(?:I(?:'ll|’ll| will| shall)|I(?:'m| am) going to|I can take care of)\s+(?:also\s+)?{_TASK_END}",
    re.I,
)
REQUEST = re.compile(
    rf"\b(?P<name>[A-Z][a-z]+)\s*,\s*(?:can you|could you|would you|will you|please|can you please|"
    rf"could you please)\s+{_TASK_END}"
)
NAMED_WILL = re.compile(rf"\b(?P<name>[A-Z][a-z]+)\s+(?:will|needs to|should|is going to)\s+{_TASK_END}")
LETS = re.compile(rf"\blet(?:'s|’s| us)\s+{_TASK_END}", re.I)
WE_WILL = re.compile(rf"\bwe(?:'ll|’ll| will| need to| have to| must)\s+{_TASK_END}", re.I)
#: "let's ..." that steer the meeting itself, not tasks.
MEETING_FLOW = frozenset(
    "start begin get move go continue wrap recap kick dive talk discuss look jump turn review hear "
    "see".split()
)
TIME_WORDS = frozenset(
    "today tomorrow yesterday tonight morning afternoon evening week weeks month months day days year "
    "monday tuesday wednesday thursday friday saturday sunday next last".split()
)
AGREEMENT = re.compile(r"^\s*(?:yes|yeah|yep|sure|ok|okay|of course|will do|no problem|absolutely)\b", re.I)
NOT_NAMES = frozenset("yes no so and but okay ok well thanks great also then now first for".split())


def content_words(text: str) -> list[str]:
    """Lower-case words of ``text`` minus stopwords (the TextRank / overlap vocabulary)."""
    return [w for w in (t.lower() for t in words(text)) if w not in STOPWORDS and len(w) > 1]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=1)
def _dateparser() -> Any:
    import dateparser  # type: ignore[import-untyped]

    return dateparser


def resolve_due_date(phrase: str, meeting_date: date) -> date | None:
    """A date phrase ("Thursday", "tomorrow morning", "next week", "end of the month", "Jan 15")
    resolved against ``meeting_date``, preferring the future; None when it is not a date."""
    text = re.sub(r"^(?:by|before|on|until|till|due|no later than)\s+", "", phrase.strip().lower())
    end = re.fullmatch(r"(?:the\s+)?end\s+of\s+(?:the\s+|this\s+|(next)\s+)?(day|week|month)", text)
    if end:
        nxt, unit = end.groups()
        if unit == "day":
            return meeting_date
        if unit == "week":
            friday = meeting_date + timedelta(days=(4 - meeting_date.weekday()) % 7)
            return friday + timedelta(days=7) if nxt else friday
        first = meeting_date.replace(day=1)
        months = 2 if nxt else 1
        year, month = first.year + (first.month - 1 + months) // 12, (first.month - 1 + months) % 12 + 1
        return date(year, month, 1) - timedelta(days=1)
    if text in ("tonight", "today"):
        return meeting_date
    base = datetime.combine(meeting_date, datetime.min.time()).replace(hour=12)
    parsed = _dateparser().parse(
        text, languages=["en"], settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future"}
    )
    if parsed is None:
        return None
    result: date = parsed.date()
    if re.fullmatch(rf"{_DAY}(?:\s+\w+)?", text) and result == meeting_date:
        result += timedelta(days=7)  # "Friday" said on a Friday means next Friday
    return result


def _clean_task(task: str) -> str:
    task = DATE_PHRASE.sub("", task)
    task = re.sub(r"\s+", " ", task).strip(" ,;:-")
    task = re.sub(r"^(?:please|also|then|just)\s+", "", task, flags=re.I)
    task = re.sub(r"(?:\s+(?:my|by|on|before|until|the|a|an|to|for|at|in|and|or))+$", "", task, flags=re.I)
    return task[:1].upper() + task[1:] if task else task


def _jaccard(a: str, b: str) -> float:
    sa, sb = {_stem(w) for w in content_words(a)}, {_stem(w) for w in content_words(b)}
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def _match_name(name: str, speakers: list[str]) -> str:
    best = max(
        speakers, key=lambda s: difflib.SequenceMatcher(None, name.lower(), s.lower()).ratio(), default=""
    )
    if best and difflib.SequenceMatcher(None, name.lower(), best.lower()).ratio() >= 0.7:
        return best
    return name


def extract_action_items(turns: list[Utterance], meeting_date: date) -> list[ActionItem]:
    """Action items from commitment and request patterns (see the module docstring)."""
    speakers = sorted({u.speaker for u in turns if u.speaker})
    found: list[tuple[str, str | None, date | None]] = []
    for index, turn in enumerate(turns):
        nxt = turns[index + 1] if index + 1 < len(turns) else None
        for sentence in split_sentences(turn.text):
            candidates: list[tuple[str | None, str]] = []
            for m in REQUEST.finditer(sentence):
                if m.group("name").lower() not in NOT_NAMES:
                    owner: str | None = _match_name(m.group("name"), speakers)
                    if speakers and owner not in speakers and nxt and nxt.speaker != turn.speaker:
                        # a misheard name: the next speaker who agrees is the addressee
                        if AGREEMENT.match(nxt.text):
                            owner = nxt.speaker or owner
                    candidates.append((owner, m.group("task")))
            for m in NAMED_WILL.finditer(sentence):
                name = m.group("name")
                if name.lower() not in NOT_NAMES and (
                    not speakers or _match_name(name, speakers) in speakers
                ):
                    candidates.append((_match_name(name, speakers), m.group("task")))
            for m in COMMITMENT.finditer(sentence):
                candidates.append((turn.speaker, m.group("task")))
            for m in LETS.finditer(sentence):
                first = (words(m.group("task")) or [""])[0].lower()
                if first not in MEETING_FLOW:
                    candidates.append((turn.speaker, m.group("task")))
            for m in WE_WILL.finditer(sentence):
                candidates.append((None, m.group("task")))
            for owner, raw in candidates:
                match = DATE_PHRASE.search(raw) or DATE_PHRASE.search(sentence)
                due = resolve_due_date(match.group(0), meeting_date) if match else None
                task = _clean_task(raw)
                if len(content_words(task)) >= 1:
                    found.append((task, owner, due))
    merged: list[tuple[str, str | None, date | None]] = []
    for task, owner, due in found:
        for i, (t2, o2, d2) in enumerate(merged):
            if o2 == owner and _jaccard(task, t2) >= 0.4:
                dues = [d for d in (due, d2) if d is not None]
                merged[i] = (max(task, t2, key=len), owner, min(dues) if dues else None)
                break
        else:
            merged.append((task, owner, due))
    return [ActionItem(task=t, assigned_to=o, due_date=d.isoformat() if d else None) for t, o, d in merged]


def textrank(sentences: list[str], personalization: list[float] | None = None) -> list[float]:
    """TextRank scores (Mihalcea & Tarau 2004) of ``sentences``; see the module docstring."""
    import networkx as nx

    bags = [{_stem(w) for w in content_words(s)} for s in sentences]
    graph = nx.Graph()
    graph.add_nodes_from(range(len(sentences)))
    for i in range(len(sentences)):
        for j in range(i + 1, len(sentences)):
            common = len(bags[i] & bags[j])
            if common and len(bags[i]) > 1 and len(bags[j]) > 1:
                graph.add_edge(i, j, weight=common / (math.log(len(bags[i])) + math.log(len(bags[j]))))
    pers = None
    if personalization and sum(personalization) > 0:
        pers = dict(enumerate(personalization))
    ranks = nx.pagerank(graph, alpha=0.85, weight="weight", personalization=pers)
    return [float(ranks[i]) for i in range(len(sentences))]


def keyphrases(text: str, limit: int = 8, exclude: set[str] | None = None) -> list[str]:
    """Top YAKE keyphrases of ``text`` (1-3 words), greetings and ``exclude`` words removed."""
    import yake

    if not words(text):
        return []
    banned = COURTESY | {e.lower() for e in (exclude or set())}
    extractor = yake.KeywordExtractor(lan="en", n=3, top=limit * 4, dedup_lim=0.8)
    out: list[str] = []
    for phrase, _score in extractor.extract_keywords(text.lower()):
        tokens = phrase.split()
        if any(t in banned or t in STOPWORDS or t in TIME_WORDS for t in tokens):
            continue
        if any(phrase in kept or kept in phrase for kept in out):
            continue
        out.append(phrase)
        if len(out) >= limit:
            break
    return out


def suggest_template(text: str, templates: list[Template]) -> TemplateSuggestion:
    """Keyword-share template suggestion (see the module docstring)."""
    lowered = " ".join(t.lower() for t in words(text))
    stems = {_stem(w) for w in content_words(text)}
    scored: list[tuple[int, list[str], Template]] = []
    for tpl in templates:
        keys = tpl.keywords or sorted(
            {w for w in content_words(" ".join([tpl.title, tpl.description, *tpl.key_points_prompt]))}
        )
        hits = [
            k for k in keys if (" " in k and f" {k.lower()} " in f" {lowered} ") or _stem(k.lower()) in stems
        ]
        scored.append((len(hits), hits, tpl))
    scored.sort(key=lambda s: -s[0])
    total = sum(s[0] for s in scored)
    if not scored:
        raise ValueError("no templates to choose from")
    best_hits, best_words, best = scored[0]

    def conf(hits: int) -> float:
        return round(min(0.95, 0.25 + 0.7 * hits / total), 2) if total else 0.1

    reason = (
        f"The conversation mentions {', '.join(best_words[:5])}, typical of a {best.title.lower()}"
        if best_hits
        else "No template's keywords occur; the first default is suggested"
    )
    return TemplateSuggestion(
        suggested_template_id=best.id,
        suggested_template_name=best.title,
        confidence=conf(best_hits),
        reason=reason,
        alternative_templates=[
            AlternativeTemplate(template_id=t.id, template_name=t.title, confidence=conf(h))
            for h, _w, t in scored[1:3]
            if h > 0
        ],
    )


# --------------------------------------------------------------------------- analyzers


class MeetingAnalyzer(ABC):
    """Turns a meeting transcript into a :class:`MeetingAnalysis`."""

    name: str = "abstract"

    @abstractmethod
    async def analyze(self, transcript: Transcript, request: MeetingRequest | None = None) -> MeetingAnalysis:
        """Analyse ``transcript``; an empty transcript gives an empty analysis, never an error."""


def name_and_measure(
    transcript: Transcript, request: MeetingRequest
) -> tuple[Transcript, list[SpeakerName], dict[str, Any]]:
    """Speaker naming then analytics: the transcript relabelled with names, the names chosen,
    and the analytics of the named transcript (see :mod:`services.analysis.speakers`)."""
    names = name_speakers(transcript, request.participants)
    named = relabel(transcript, {n.label: n.name for n in names})
    return named, names, meeting_analytics(named)


def _meeting_date(request: MeetingRequest) -> date:
    return request.meeting_date or date.today()


def _empty(request: MeetingRequest, analyzer: str) -> MeetingAnalysis:
    return MeetingAnalysis(
        language="und",
        title="Empty recording",
        description="No speech was found in the recording.",
        summary="",
        key_points=[],
        action_items=[],
        meeting_date=_meeting_date(request).isoformat(),
        template_id=request.template.id if request.template else None,
        analyzer=analyzer,
    )


class LocalMeetingAnalyzer(MeetingAnalyzer):
    """Deterministic, offline meeting analysis (see the module docstring)."""

    name = "local"

    async def analyze(self, transcript: Transcript, request: MeetingRequest | None = None) -> MeetingAnalysis:
        """Run :meth:`run` in a worker thread."""
        return await asyncio.to_thread(self.run, transcript, request or MeetingRequest())

    def run(self, transcript: Transcript, request: MeetingRequest) -> MeetingAnalysis:
        """Synchronous analysis (speakers named first, see :func:`name_and_measure`)."""
        transcript, names, analytics = name_and_measure(transcript, request)
        turns = utterances(transcript)
        text = " ".join(u.text for u in turns)
        if not words(text):
            return _empty(request, self.name).model_copy(update={"analytics": analytics})
        language, lang_p = detect_language(text)
        sentences = [s for u in turns for s in split_sentences(u.text)]
        speakers = {u.speaker for u in turns if u.speaker}
        phrases = keyphrases(text, exclude=speakers)
        template = request.template
        personalization = None
        if template:
            prompt_words = {
                _stem(w)
                for w in content_words(" ".join([template.summary_prompt, *template.key_points_prompt]))
            }
            personalization = [
                0.1 + len(prompt_words & {_stem(w) for w in content_words(s)}) for s in sentences
            ]
        ranks = textrank(sentences, personalization)
        informative = [i for i, s in enumerate(sentences) if len(content_words(s)) >= 3]
        k = max(2, min(5, round(len(sentences) / 4)))
        chosen = sorted(sorted(informative or range(len(sentences)), key=lambda i: -ranks[i])[:k])
        summary = " ".join(sentences[i] for i in chosen)
        key_points = self._key_points(sentences, ranks, phrases, template)
        items = extract_action_items(turns, _meeting_date(request))
        title = self._title(sentences, phrases)
        description = (
            f"Discussion of {self._join(phrases[:3])}"
            + (f"; {len(items)} action item{'s' if len(items) != 1 else ''}." if items else ".")
            if phrases
            else summary[:200]
        )
        return MeetingAnalysis(
            language=language,
            language_confidence=lang_p,
            title=title,
            description=description,
            summary=summary,
            key_points=key_points,
            keyphrases=phrases,
            action_items=items,
            template_suggestion=suggest_template(text, list(request.templates or DEFAULT_TEMPLATES)),
            template_id=template.id if template else None,
            meeting_date=_meeting_date(request).isoformat(),
            analyzer=self.name,
            speaker_names=names,
            analytics=analytics,
        )

    @staticmethod
    def _join(items: list[str]) -> str:
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

    @staticmethod
    def _title(sentences: list[str], phrases: list[str]) -> str:
        for s in sentences[:5]:
            m = re.search(
                r"\b((?:weekly|daily|monthly|quarterly|annual|q[1-4])?\s*[\w-]*\s*"
                r"(?:sync|meeting|review|standup|stand-up|call|retro|retrospective|planning|kickoff|1:1))\b",
                s,
                re.I,
            )
            if m and len(m.group(1).split()) >= 2:
                head = m.group(1).strip()
                rest = [p for p in phrases if p not in head.lower() and head.lower() not in p][:3]
                return head[:1].upper() + head[1:] + (f": {', '.join(rest)}" if rest else "")
        return ("Meeting about " + ", ".join(phrases[:3])) if phrases else "Meeting"

    @staticmethod
    def _key_points(
        sentences: list[str], ranks: list[float], phrases: list[str], template: Template | None
    ) -> list[str]:
        bags = [{_stem(w) for w in content_words(s)} for s in sentences]
        points: list[str] = []
        if template and template.key_points_prompt:
            for prompt in template.key_points_prompt:
                want = {_stem(w) for w in content_words(prompt)}
                best = max(range(len(sentences)), key=lambda i: (len(want & bags[i]), ranks[i]))
                points.append(f"{prompt}: {sentences[best]}")
            return points
        used: set[int] = set()
        for phrase in phrases:
            want = {_stem(w) for w in content_words(phrase)}
            options = [i for i in range(len(sentences)) if want <= bags[i] and i not in used]
            if options:
                best = max(options, key=lambda i: ranks[i])
                used.add(best)
                points.append(sentences[best])
            if len(points) >= 5:
                break
        return [sentences[i] for i in sorted(used)] if points else sentences[:3]


class _LLMActionItem(BaseModel):
    task: str
    assigned_to: str | None
    due_date: str | None = Field(description="YYYY-MM-DD or null")


class MeetingAnswer(BaseModel):
    """What the provider is asked for (one chunk)."""

    title: str
    description: str
    summary: str
    key_points: list[str]
    action_items: list[_LLMActionItem]


class SummaryAnswer(BaseModel):
    """Reduce step: one summary from the chunks' summaries."""

    title: str
    description: str
    summary: str


class LLMMeetingAnalyzer(MeetingAnalyzer):
    """Provider-backed meeting analysis; chunked (map-reduce) over the model's context window."""

    def __init__(self, provider: StructuredProvider) -> None:
        self.provider = provider
        self.name = provider.name

    def _instructions(self, request: MeetingRequest) -> str:
        today = _meeting_date(request)
        parts = [
            "You analyse meeting transcripts. Each line is 'Speaker: what they said'.",
            "Return a short title, a one-sentence description, a summary of 2-5 sentences, the key "
            "points, and every action item with the person who owns it (assigned_to, null when nobody "
            "was named) and its due date as YYYY-MM-DD resolved against the meeting date "
            f"{today.isoformat()} "
            f"({today.strftime('%A')}); null when no date was said.",
        ]
        if request.template:
            tpl = request.template
            parts.append(f"Follow the '{tpl.title}' template.")
            if tpl.summary_prompt:
                parts.append(f"Summary instructions: {tpl.summary_prompt}")
            if tpl.key_points_prompt:
                parts.append("Key points to extract, one each: " + "; ".join(tpl.key_points_prompt))
        return "\n".join(parts)

    async def analyze(self, transcript: Transcript, request: MeetingRequest | None = None) -> MeetingAnalysis:
        """Ask the provider (per chunk when the transcript is over its context window).

        Raises:
            services.analysis.providers.ProviderError: when the provider fails for good.
        """
        request = request or MeetingRequest()
        transcript, names, analytics = name_and_measure(transcript, request)
        lines = transcript_lines(transcript)
        text = "\n".join(lines)
        if not words(text):
            return _empty(request, self.name).model_copy(update={"analytics": analytics})
        language, lang_p = detect_language(text)
        instructions = self._instructions(request)
        budget = self.provider.input_budget_tokens - estimate_tokens(instructions)
        chunks = chunk_lines(lines, max(16, budget))
        answers = [
            (await self.provider.generate(instructions, chunk, MeetingAnswer)).value for chunk in chunks
        ]
        if len(answers) == 1:
            head = SummaryAnswer(
                title=answers[0].title, description=answers[0].description, summary=answers[0].summary
            )
        else:
            joined = "\n".join(f"Part {i + 1}: {a.summary}" for i, a in enumerate(answers))
            head = (
                await self.provider.generate(
                    "Combine the summaries of consecutive parts of one meeting into one title, one-sentence "
                    "description and a summary of 2-5 sentences.",
                    joined,
                    SummaryAnswer,
                )
            ).value
        items: list[ActionItem] = []
        for a in answers:
            for it in a.action_items:
                if not any(
                    x.task.lower() == it.task.lower() and x.assigned_to == it.assigned_to for x in items
                ):
                    items.append(ActionItem(task=it.task, assigned_to=it.assigned_to, due_date=it.due_date))
        points = list(dict.fromkeys(p for a in answers for p in a.key_points))
        speakers = {u.speaker for u in utterances(transcript) if u.speaker}
        return MeetingAnalysis(
            language=language,
            language_confidence=lang_p,
            title=head.title,
            description=head.description,
            summary=head.summary,
            key_points=points,
            keyphrases=keyphrases(text, exclude=speakers),
            action_items=items,
            template_suggestion=await self.suggest(text, list(request.templates or DEFAULT_TEMPLATES)),
            template_id=request.template.id if request.template else None,
            meeting_date=_meeting_date(request).isoformat(),
            chunks=len(chunks),
            analyzer=self.name,
            speaker_names=names,
            analytics=analytics,
        )

    async def suggest(self, text: str, templates: list[Template]) -> TemplateSuggestion:
        """Ask the provider which template fits (the transcript's opening is enough)."""
        listing = "\n".join(
            f"- id: {t.id} | name: {t.title} | keywords: "
            + ", ".join(t.keywords or content_words(t.description))
            for t in templates
        )
        budget = max(64, self.provider.input_budget_tokens - estimate_tokens(listing) - 200)
        excerpt = text[: budget * 4]
        answer = await self.provider.generate(
            "Pick the template that best fits this meeting transcript from the list below. Give your "
            "confidence 0-1, a one-sentence reason and up to two alternatives.\nTemplates:\n" + listing,
            excerpt,
            TemplateSuggestion,
        )
        return answer.value
