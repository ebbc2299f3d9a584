"""The session report of an interview (seed 001 ``/api/final-report``) and its renderings.

:func:`session_report` aggregates the answers' complete analyses:

- **scores**: per dimension (domain, communication, pace, pause) the mean of the answers'
  scores; per question its scores and their mean; ``overall_score`` the mean of the
  dimensions (None when nothing was analysed).
- **strengths**: dimensions scoring >= 75, each with the evidence behind it.
- **things to work on**: dimensions under 60, and any answer's concrete problems, each with
  an example *quoted from the answers* (the communication suggestions' quotes, the missed
  key concepts of the weakest domain answer, the longest pause and the word before it).
- **pace and pause over the session**: words per minute, pauses, long pauses and speaking
  ratio per question in order, with the session's mean and range.
- **recommended practice**: one exercise per weak dimension (:data:`PRACTICE`), plus the
  missed concepts to revise.

Renderings: :func:`render_markdown` (GitHub-flavoured Markdown) and :func:`render_pdf`
(fpdf2, core Helvetica font; characters outside Latin-1 are transliterated).
"""

from __future__ import annotations

from statistics import mean
from typing import Any

from pydantic import BaseModel, Field

from services.analysis.interview import ANALYSIS_TYPES, AttemptInput

STRONG = 75
WEAK = 60

DIMENSION_NAMES = {
    "domain": "domain knowledge",
    "communication": "communication",
    "pace": "speaking pace",
    "pause": "pauses",
}

#: dimension -> an exercise for it
PRACTICE = {
    "domain": "Before each answer, list the 3-4 key concepts the question asks for and make sure each one "
    "is named and explained with an example.",
    "communication": "Answer in a fixed shape: one-line answer, 'first... then... for example...', and a "
    "one-line conclusion; record yourself and count the filler words.",
    "pace": "Read a 150-word paragraph aloud in 60 seconds with a timer, then answer a question at the same "
    "pace.",
    "pause": "Practise a silent one-second pause instead of 'um' between ideas; keep any silence under "
    "1.5 seconds by preparing the next point while you finish the current one.",
}


class QuestionScore(BaseModel):
    """One question of the session: its scores (0-100) and delivery figures."""

    index: int
    question_id: int | None = None
    question: str
    scores: dict[str, int] = Field(default_factory=dict)
    overall: int | None = None
    failed: list[str] = Field(default_factory=list)
    wpm: float | None = None
    pause_count: int | None = None
    long_pauses: int | None = None
    speaking_ratio: float | None = None


class WorkItem(BaseModel):
    """Something to work on, with an example quoted from an answer."""

    dimension: str
    issue: str
    example: str
    question: str
    tip: str


class DeliveryTrend(BaseModel):
    """Pace or pause over the session: one value per answered question and their summary."""

    values: list[float] = Field(default_factory=list)
    mean: float | None = None
    min: float | None = None
    max: float | None = None


class SessionReport(BaseModel):
    """The interview session as a whole (see the module docstring)."""

    overall_score: int | None = None
    dimension_scores: dict[str, int] = Field(default_factory=dict)
    answered: int = 0
    per_question: list[QuestionScore] = Field(default_factory=list)
    strengths: list[str] = Field(default_factory=list)
    improvements: list[str] = Field(default_factory=list)
    things_to_work_on: list[WorkItem] = Field(default_factory=list)
    pace_over_session: DeliveryTrend = Field(default_factory=lambda: DeliveryTrend(values=[]))
    pauses_over_session: DeliveryTrend = Field(default_factory=lambda: DeliveryTrend(values=[]))
    long_pauses_over_session: DeliveryTrend = Field(default_factory=lambda: DeliveryTrend(values=[]))
    recommended_practice: list[str] = Field(default_factory=list)
    summary: str = ""


def _trend(values: list[float]) -> DeliveryTrend:
    if not values:
        return DeliveryTrend(values=[], mean=None, min=None, max=None)
    return DeliveryTrend(
        values=[round(v, 2) for v in values],
        mean=round(mean(values), 2),
        min=round(min(values), 2),
        max=round(max(values), 2),
    )


def _evidence(dim: str, results: list[dict[str, Any]]) -> str:
    if dim == "domain":
        covered = sum(len(r.get("covered_concepts", [])) for r in results)
        total = covered + sum(
            len(r.get("missing_concepts", [])) + len(r.get("partially_covered", [])) for r in results
        )
        return f"covered {covered} of {total} key concepts"
    if dim == "communication":
        fillers = sum(int(r.get("filler_words", 0)) for r in results)
        return f"{fillers} filler word{'s' if fillers != 1 else ''} in {len(results)} answers"
    if dim == "pace":
        wpm = [float(r["wpm"]) for r in results if r.get("wpm")]
        return f"{mean(wpm):.0f} words per minute on average" if wpm else "pace measured"
    long = sum(len(r.get("long_pauses", [])) for r in results)
    return f"{long} long pause{'s' if long != 1 else ''} in {len(results)} answers"


def session_report(attempts: list[AttemptInput]) -> SessionReport:
    """The session report of ``attempts`` in question order (see the module docstring)."""
    dims: dict[str, list[float]] = {t: [] for t in ANALYSIS_TYPES}
    results_by_dim: dict[str, list[tuple[str, dict[str, Any]]]] = {t: [] for t in ANALYSIS_TYPES}
    per_question: list[QuestionScore] = []
    wpm: list[float] = []
    pauses: list[float] = []
    long_pauses: list[float] = []
    for i, a in enumerate(attempts, start=1):
        scores: dict[str, int] = {}
        for t, r in a.analysis.results.items():
            if isinstance(r, dict) and "score" in r:
                scores[t] = round(float(r["score"]))
                dims.setdefault(t, []).append(float(r["score"]))
                results_by_dim.setdefault(t, []).append((a.question, r))
        pace = a.analysis.results.get("pace") or {}
        pause = a.analysis.results.get("pause") or {}
        if pace.get("words"):
            wpm.append(float(pace["wpm"]))
        if pause and pause.get("speaking_time_s"):
            pauses.append(float(pause["pause_count"]))
            long_pauses.append(float(len(pause.get("long_pauses", []))))
        per_question.append(
            QuestionScore(
                index=i,
                question_id=a.question_id,
                question=a.question,
                scores=scores,
                overall=round(mean(scores.values())) if scores else None,
                failed=sorted(a.analysis.errors),
                wpm=pace.get("wpm") if pace.get("words") else None,
                pause_count=pause.get("pause_count") if pause else None,
                long_pauses=len(pause.get("long_pauses", [])) if pause else None,
                speaking_ratio=pause.get("speaking_ratio") if pause else None,
            )
        )
    dimension_scores = {t: round(mean(v)) for t, v in dims.items() if v}
    overall = round(mean(dimension_scores.values())) if dimension_scores else None
    strengths = [
        f"{DIMENSION_NAMES.get(t, t)} ({v}/100): {_evidence(t, [r for _q, r in results_by_dim[t]])}"
        for t, v in dimension_scores.items()
        if v >= STRONG
    ]
    weak = [t for t, v in dimension_scores.items() if v < WEAK]
    improvements = [f"{t}: {PRACTICE[t].split(';')[0].split(',')[0]}" for t in weak]
    work = _work_items(results_by_dim, weak)
    missed = list(
        dict.fromkeys(c for _q, r in results_by_dim.get("domain", []) for c in r.get("missing_concepts", []))
    )
    practice = [PRACTICE[t] for t in weak]
    if missed:
        practice.append(f"Revise these concepts you did not mention: {', '.join(missed[:8])}.")
    if not practice and dimension_scores:
        practice.append("Keep practising with harder questions: ask for the next difficulty level.")
    if overall is None:
        summary = "No analysed answers yet: transcribe and analyse at least one answer."
    else:
        summary = (
            f"{len(attempts)} answer{'s' if len(attempts) != 1 else ''} analysed; overall {overall}/100."
        )
        good = [DIMENSION_NAMES[t] for t, v in dimension_scores.items() if v >= STRONG]
        if good:
            summary += f" Strong: {', '.join(good)}."
        if weak:
            summary += f" Work on: {', '.join(DIMENSION_NAMES[t] for t in weak)}."
    return SessionReport(
        overall_score=overall,
        dimension_scores=dimension_scores,
        answered=sum(1 for q in per_question if q.scores),
        per_question=per_question,
        strengths=strengths,
        improvements=improvements,
        things_to_work_on=work,
        pace_over_session=_trend(wpm),
        pauses_over_session=_trend(pauses),
        long_pauses_over_session=_trend(long_pauses),
        recommended_practice=practice,
        summary=summary,
    )


def _work_items(results: dict[str, list[tuple[str, dict[str, Any]]]], weak: list[str]) -> list[WorkItem]:
    items: list[WorkItem] = []
    for question, r in results.get("communication", []):
        for s in r.get("suggestions", [])[:2]:
            items.append(
                WorkItem(
                    dimension="communication",
                    issue=s["issue"],
                    example=s["quote"],
                    question=question,
                    tip=s["tip"],
                )
            )
    domain = sorted(results.get("domain", []), key=lambda qr: qr[1].get("score", 100))
    for question, r in domain[:2]:
        gaps = [*r.get("missing_concepts", []), *r.get("partially_covered", [])]
        if gaps and r.get("score", 100) < STRONG:
            items.append(
                WorkItem(
                    dimension="domain",
                    issue="missed key concepts",
                    example=", ".join(gaps[:4]),
                    question=question,
                    tip=r.get("feedback", ""),
                )
            )
    for question, r in results.get("pause", []):
        longest = max(r.get("long_pauses", []), key=lambda p: p["duration"], default=None)
        if longest:
            items.append(
                WorkItem(
                    dimension="pause",
                    issue="long pause",
                    example=f'{longest["duration"]:.1f} s of silence after "{longest["after_word"]}"',
                    question=question,
                    tip=PRACTICE["pause"],
                )
            )
    for question, r in results.get("pace", []):
        if r.get("band") in ("slow", "fast"):
            items.append(
                WorkItem(
                    dimension="pace",
                    issue=f"{r['band']} pace",
                    example=f"{r['wpm']:.0f} words per minute",
                    question=question,
                    tip=r.get("feedback", ""),
                )
            )
    order = {t: i for i, t in enumerate([*weak, *ANALYSIS_TYPES])}
    items.sort(key=lambda w: order.get(w.dimension, 99))
    return items[:10]


# --------------------------------------------------------------------------- renderings


def render_markdown(report: SessionReport, title: str = "Interview report") -> str:
    """The report as Markdown: headline scores, per-question table, strengths, things to work
    on with quotes, pace and pauses over the session, recommended practice."""
    lines = [f"# {title}", "", report.summary, ""]
    if report.dimension_scores:
        lines += ["## Scores", "", "| Dimension | Score |", "| --- | --- |"]
        lines += [f"| {DIMENSION_NAMES.get(t, t)} | {v} |" for t, v in report.dimension_scores.items()]
        lines += [f"| **overall** | **{report.overall_score}** |", ""]
    if report.per_question:
        dims = list(ANALYSIS_TYPES)
        lines += ["## Questions", "", "| # | Question | " + " | ".join(dims) + " | wpm | pauses |"]
        lines += ["| --- " * (len(dims) + 4) + "|"]
        for q in report.per_question:
            cells = [str(q.scores.get(d, "-")) for d in dims]
            text = q.question.replace("|", "/")
            lines.append(
                f"| {q.index} | {text} | "
                + " | ".join(cells)
                + f" | {q.wpm if q.wpm is not None else '-'} | "
                f"{q.pause_count if q.pause_count is not None else '-'} |"
            )
        lines.append("")
    if report.strengths:
        lines += ["## Strengths", "", *[f"- {s}" for s in report.strengths], ""]
    if report.things_to_work_on:
        lines += ["## Things to work on", ""]
        for w in report.things_to_work_on:
            lines.append(f'- **{w.issue}** ({DIMENSION_NAMES.get(w.dimension, w.dimension)}): "{w.example}"')
            lines.append(f"  - question: {w.question}")
            lines.append(f"  - {w.tip}")
        lines.append("")
    lines += ["## Pace and pauses over the session", ""]
    p, z = report.pace_over_session, report.pauses_over_session
    lines.append(
        f"- pace (wpm): {', '.join(f'{v:g}' for v in p.values) or '-'}"
        + (f" (mean {p.mean:g}, {p.min:g}-{p.max:g})" if p.mean is not None else "")
    )
    lines.append(
        f"- pauses per answer: {', '.join(f'{v:g}' for v in z.values) or '-'}"
        + (f" (mean {z.mean:g})" if z.mean is not None else "")
    )
    lines.append("")
    if report.recommended_practice:
        lines += [
            "## Recommended practice",
            "",
            *[f"{i}. {s}" for i, s in enumerate(report.recommended_practice, 1)],
        ]
    return "\n".join(lines).rstrip() + "\n"


def _latin1(text: str) -> str:
    table = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "…": "...", "•": "-"})
    return text.translate(table).encode("latin-1", "replace").decode("latin-1")


def render_pdf(report: SessionReport, title: str = "Interview report") -> bytes:
    """The report as a PDF document (fpdf2; A4, Helvetica)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    def heading(text: str, size: int = 14) -> None:
        pdf.set_font("Helvetica", "B", size)
        pdf.multi_cell(0, 8, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)

    def para(text: str) -> None:
        pdf.multi_cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    heading(title, 18)
    para(report.summary)
    if report.dimension_scores:
        heading("Scores")
        for t, v in report.dimension_scores.items():
            para(f"{DIMENSION_NAMES.get(t, t)}: {v}/100")
        para(f"overall: {report.overall_score}/100")
    if report.per_question:
        heading("Questions")
        for q in report.per_question:
            scores = ", ".join(f"{k} {v}" for k, v in q.scores.items()) or "not analysed"
            para(f"{q.index}. {q.question}\n   {scores}" + (f"; {q.wpm:g} wpm" if q.wpm is not None else ""))
    if report.strengths:
        heading("Strengths")
        for s in report.strengths:
            para(f"- {s}")
    if report.things_to_work_on:
        heading("Things to work on")
        for w in report.things_to_work_on:
            para(f'- {w.issue}: "{w.example}"\n  {w.tip}')
    heading("Pace and pauses over the session")
    para("pace (wpm): " + (", ".join(f"{v:g}" for v in report.pace_over_session.values) or "-"))
    para("pauses per answer: " + (", ".join(f"{v:g}" for v in report.pauses_over_session.values) or "-"))
    if report.recommended_practice:
        heading("Recommended practice")
        for i, s in enumerate(report.recommended_practice, 1):
            para(f"{i}. {s}")
    return bytes(pdf.output())
