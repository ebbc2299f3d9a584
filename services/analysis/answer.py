"""What an interview answer says: domain knowledge and communication (seed 001).

**Domain** (:func:`analyze_domain`): the answer is scored against the question's *key
concepts* (from the question bank, :mod:`services.analysis.question_bank`, or the LLM),
each with synonyms. Answer and synonyms are lemmatised with ``lemminflect`` (every lemma
of every part of speech, plus a light suffix stem for words it does not know), so
"indexes", "indexing" and "index" meet. A concept is

- *covered* when one of its synonyms (or its own name) occurs as a lemma sequence;
- *touched* (half credit) when not covered but one of the content words of its synonyms
  occurs (an on-topic answer without the exact words; words common in any answer, such as
  "data" or "model" (:data:`GENERIC_WORDS`), do not count);
- *missed* otherwise.

``score = 100 * (0.85 * (covered + 0.5 touched) / concepts + 0.15 * relevance)`` where
``relevance`` is the share of the question's content lemmas (no stop words, 4+ letters)
the answer uses (``min(1, 2 * share)``). An answer on the topic therefore never scores 0.
A concept with no synonyms known uses its name and :data:`SYNONYMS`.

**Communication** (:func:`analyze_communication`):
``score = 0.35 clarity + 0.25 structure + 0.20 vocabulary + 0.20 fluency`` with

- clarity ``100 * (1 - ramp(mean sentence words, 20, 40)) - 5 * hedges per 100 words``
  (hedges: "I think", "maybe", "probably", "I guess"...);
- structure ``100 * (0.7 * ramp(signposts per 100 words, 0, 3) + 0.3 * conclusion)``
  (signposts: first, then, because, for example...; a conclusion: the last sentence opens
  with "so", "overall", "in summary", "to conclude"...);
- vocabulary: moving-average type-token ratio (MATTR, Covington & McFall 2010, window 50
  words) mapped ``100 * ramp(mattr, 0.4, 0.8)``;
- fluency ``100 * (1 - ramp(fillers per 100 words, 1, 8))``; fillers per minute are given
  when the speaking time is known.

Two or three concrete ``suggestions`` quote the answer: the longest sentence (when over 25
words), the first hedge, the most frequent filler, a missing conclusion or signposting.
"""

from __future__ import annotations

import re
from functools import lru_cache
from statistics import mean

from services.analysis.text import split_sentences, words
from services.common.analysis_results import CommunicationAnalysis, DomainAnalysis, Suggestion

__all__ = [
    "CommunicationAnalysis",
    "DomainAnalysis",
    "Suggestion",
    "analyze_communication",
    "analyze_domain_concepts",
]

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you
    your yours tell explain describe walk through give example way use used using would like
    """.split()
)

#: General synonyms for concept names that carry none (LLM concepts): name -> synonyms.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "overfitting": ("overfit", "memorize", "memorise", "generalize poorly", "high variance"),
    "regularization": ("regularisation", "dropout", "penalty", "weight decay", "l2", "l1"),
    "validation": ("holdout", "cross-validation", "validation set", "test set"),
    "scalability": ("scale", "horizontal", "load", "throughput"),
    "latency": ("response time", "fast", "slow", "millisecond"),
    "caching": ("cache", "memoize", "redis"),
    "monitoring": ("monitor", "alert", "observability", "dashboard", "metric"),
    "testing": ("test", "unit test", "coverage", "assert"),
    "trade-offs": ("trade-off", "tradeoff", "instead", "alternative", "downside", "cost"),
    "metrics": ("metric", "kpi", "measure", "measurement"),
    "stakeholders": ("stakeholder", "team", "customer", "manager", "partner"),
    "prioritization": ("prioritisation", "priority", "prioritize", "prioritise", "rank"),
    "communication": ("communicate", "explain", "talk", "share", "update"),
    "security": ("secure", "auth", "encrypt", "permission", "vulnerability"),
}

HEDGES = (
    "i think",
    "i guess",
    "i believe",
    "maybe",
    "probably",
    "perhaps",
    "sort of",
    "kind of",
    "i'm not sure",
    "i am not sure",
    "might",
)
FILLERS = (
    "um",
    "uh",
    "erm",
    "er",
    "hmm",
    "you know",
    "i mean",
    "basically",
    "actually",
    "sort of",
    "kind of",
    "literally",
    "like",
)
MARKERS = (
    "first",
    "firstly",
    "second",
    "secondly",
    "then",
    "next",
    "finally",
    "because",
    "therefore",
    "however",
    "for example",
    "for instance",
    "in summary",
    "to summarize",
    "so that",
    "as a result",
)
CONCLUSIONS = (
    "so",
    "overall",
    "in summary",
    "to summarize",
    "to summarise",
    "in short",
    "to conclude",
    "in conclusion",
    "all in all",
    "that's why",
    "that is why",
    "in the end",
)


def ramp(x: float, lo: float, hi: float) -> float:
    """``clip((x - lo) / (hi - lo), 0, 1)``."""
    return max(0.0, min(1.0, (x - lo) / (hi - lo)))


# --------------------------------------------------------------------------- lemmas


def _stem(word: str) -> str:
    for suffix in ("ization", "isation", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=65536)
def lemmas(token: str) -> frozenset[str]:
    """Every lemma of a lowercased token (``lemminflect``, all parts of speech), the token
    itself and its light suffix stem."""
    from lemminflect import getAllLemmas

    out = {token, _stem(token)}
    for forms in getAllLemmas(token).values():
        out.update(forms)
        out.update(_stem(f) for f in forms)
    return frozenset(out)


def _tokens(text: str) -> list[str]:
    return [t.lower() for t in re.findall(r"[A-Za-z0-9]+(?:['’/.+#-][A-Za-z0-9]+)*", text)]


def _phrase_in(phrase: str, answer: list[frozenset[str]], answer_text: str) -> bool:
    """Whether ``phrase`` occurs in the answer: a lemma sequence; a token that is a word
    prefix (``autoscal``) matches words starting with it; symbols (``429``, ``o(1)``) as text."""
    p = phrase.lower().strip()
    if not re.fullmatch(r"[a-z0-9 '’/.+#-]+", p):
        return p in answer_text
    parts = _tokens(p)
    if not parts:
        return False
    wanted = [lemmas(t) for t in parts]
    n = len(parts)
    for i in range(len(answer) - n + 1):
        if all(
            (wanted[k] & answer[i + k])
            or (len(parts[k]) >= 5 and any(a.startswith(parts[k]) for a in answer[i + k]))
            for k in range(n)
        ):
            return True
    return False


#: Words too common in any answer to show a concept was touched (partial credit).
GENERIC_WORDS = frozenset(
    """data model models time thing things make work works system problem value good team user users
    people case step steps know want need look lot lots well also really able kind sort just""".split()
)


def _content(text: str) -> set[str]:
    return {
        t
        for t in _tokens(text)
        if t not in STOP_WORDS and t not in GENERIC_WORDS and len(t) >= 4 and t.isalpha()
    }


# --------------------------------------------------------------------------- domain


def analyze_domain_concepts(
    question: str, answer: str, concepts: dict[str, tuple[str, ...]]
) -> DomainAnalysis:
    """Score ``answer`` against ``concepts`` (name -> synonyms; see the module docstring).

    Raises:
        ValueError: ``concepts`` is empty.
    """
    if not concepts:
        raise ValueError("domain analysis needs the question's key concepts")
    tokens = _tokens(answer)
    answer_lemmas = [lemmas(t) for t in tokens]
    all_lemmas = set().union(*answer_lemmas) if answer_lemmas else set()
    answer_text = " ".join(tokens)
    covered: list[str] = []
    partial: list[str] = []
    evidence: dict[str, str] = {}
    for name, synonyms in concepts.items():
        phrases = list(dict.fromkeys([name, *synonyms, *SYNONYMS.get(name.lower(), ())]))
        hit = next((p for p in phrases if _phrase_in(p, answer_lemmas, answer_text)), None)
        if hit is not None:
            covered.append(name)
            evidence[name] = hit
            continue
        content = set().union(*(_content(p) for p in phrases))
        if any(lemmas(w) & all_lemmas for w in content):
            partial.append(name)
    missing = [c for c in concepts if c not in covered and c not in partial]
    q_content = _content(question)
    share = sum(1 for w in q_content if lemmas(w) & all_lemmas) / len(q_content) if q_content else 0.0
    relevance = min(1.0, 2 * share)
    coverage = (len(covered) + 0.5 * len(partial)) / len(concepts)
    score = round(100 * (0.85 * coverage + 0.15 * relevance))
    feedback = f"Covered {len(covered)} of {len(concepts)} key concepts"
    if partial:
        feedback += f", touched on {', '.join(partial[:3])}"
    feedback += f"; also discuss {', '.join(missing[:3])}." if missing else "."
    return DomainAnalysis(
        score=max(0, min(100, score)),
        covered_concepts=covered,
        missing_concepts=missing,
        partially_covered=partial,
        relevance=round(relevance, 3),
        evidence=evidence,
        feedback=feedback,
    )


# --------------------------------------------------------------------------- communication


def _mattr(tokens: list[str], window: int = 50) -> float:
    if not tokens:
        return 0.0
    if len(tokens) <= window:
        return len(set(tokens)) / len(tokens)
    return mean(len(set(tokens[i : i + window])) / window for i in range(len(tokens) - window + 1))


def _count(padded: str, phrase: str) -> int:
    return padded.count(f" {phrase} ")


def _quote(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _sentence_with(sentences: list[str], phrase: str) -> str:
    pattern = re.compile(rf"\b{re.escape(phrase)}\b", re.I)
    return next((s for s in sentences if pattern.search(s)), sentences[0] if sentences else "")


def analyze_communication(answer: str, speaking_s: float | None = None) -> CommunicationAnalysis:
    """Clarity, structure, vocabulary, fluency and suggestions (see the module docstring);
    ``speaking_s`` (seconds) gives fillers per minute."""
    tokens = [t.lower() for t in words(answer)]
    if not tokens:
        return CommunicationAnalysis(
            score=0, clarity=0, structure=0, vocabulary=0, filler_words=0, feedback="No answer to assess."
        )
    padded = " " + " ".join(tokens) + " "
    breakdown = {f: _count(padded, f) for f in FILLERS if f not in ("like", "er")}
    breakdown["like"] = len(re.findall(r"(?:^|[,.]\s*)like\b|\blike,", answer.lower()))
    breakdown["er"] = _count(padded, "er")
    breakdown = {k: v for k, v in breakdown.items() if v}
    fillers = sum(breakdown.values())
    hedges = {h: _count(padded, h) + (_count(padded, h.replace("'", " ")) if "'" in h else 0) for h in HEDGES}
    hedges = {k: v for k, v in hedges.items() if v}
    sentences = split_sentences(answer) or [answer]
    lengths = [len(words(s)) for s in sentences]
    mean_len = len(tokens) / len(sentences)
    per100 = 100.0 / len(tokens)
    signposts = [m for m in MARKERS if _count(padded, m)]
    last = " " + " ".join(t.lower() for t in words(sentences[-1])) + " "
    has_conclusion = len(sentences) > 1 and any(last.startswith(f" {c} ") for c in CONCLUSIONS)
    marker_rate = sum(_count(padded, m) for m in MARKERS) * per100
    clarity = max(0.0, 100 * (1 - ramp(mean_len, 20, 40)) - 5 * sum(hedges.values()) * per100)
    structure = 100 * (0.7 * ramp(marker_rate, 0, 3) + 0.3 * has_conclusion)
    vocabulary = 100 * ramp(_mattr(tokens), 0.4, 0.8)
    fluency = 100 * (1 - ramp(fillers * per100, 1, 8))
    score = 0.35 * clarity + 0.25 * structure + 0.20 * vocabulary + 0.20 * fluency
    suggestions: list[Suggestion] = []
    if fillers * per100 > 2:
        top = max(breakdown, key=lambda k: breakdown[k])
        suggestions.append(
            Suggestion(
                issue="filler words",
                quote=_quote(_sentence_with(sentences, top)),
                tip=f'"{top}" came {breakdown[top]} times ({fillers} fillers in all): '
                "pause silently instead.",
            )
        )
    longest = max(range(len(sentences)), key=lambda i: lengths[i])
    if lengths[longest] > 25:
        suggestions.append(
            Suggestion(
                issue="long sentence",
                quote=_quote(sentences[longest]),
                tip=f"This sentence runs {lengths[longest]} words: split it into two or three.",
            )
        )
    if hedges:
        hedge = next(iter(hedges))
        suggestions.append(
            Suggestion(
                issue="hedging",
                quote=_quote(_sentence_with(sentences, hedge)),
                tip=f'"{hedge}" weakens the point: state it plainly, then give your evidence.',
            )
        )
    if len(suggestions) < 3 and marker_rate < 1.5:
        suggestions.append(
            Suggestion(
                issue="signposting",
                quote=_quote(sentences[0]),
                tip='Announce the structure: "first..., then..., for example..., finally...".',
            )
        )
    if len(suggestions) < 3 and not has_conclusion and len(tokens) >= 20:
        suggestions.append(
            Suggestion(
                issue="no conclusion",
                quote=_quote(sentences[-1]),
                tip='End with a one-line takeaway ("So, in short, ...").',
            )
        )
    suggestions = suggestions[:3]
    feedback = (
        "Try to: " + "; ".join(s.issue for s in suggestions) + "."
        if suggestions
        else "Clear, well structured answer."
    )
    if fillers * per100 > 2:
        feedback = feedback.replace("filler words", "cut filler words")
    return CommunicationAnalysis(
        score=round(score),
        clarity=round(clarity),
        structure=round(structure),
        vocabulary=round(vocabulary),
        filler_words=fillers,
        filler_breakdown=breakdown,
        fillers_per_minute=round(fillers / (speaking_s / 60), 2) if speaking_s else None,
        hedges=hedges,
        signposts=signposts,
        has_conclusion=has_conclusion,
        mean_sentence_words=round(mean_len, 1),
        longest_sentence_words=lengths[longest],
        suggestions=suggestions,
        feedback=feedback,
    )
