"""Local stand-ins for outside paid APIs, speaking their real wire formats on loopback.

Provider fakes (owned by the analysis service, issue 8): ``openai_chat``,
``anthropic_messages``, ``gemini_generate``. Each is a Starlette app served by a real
uvicorn on a free loopback port, driven by the official SDK through its base URL. Answers
are computed from the request (the fake "reads" the prompt with the keyword rules of
:func:`answer`), never constants. ``oidc_provider`` (auth, issue 4) is a local OpenID
Connect provider and does not use this base. The media fakes (``anthropic_vision``,
``suno``) use :class:`LoopbackServer` directly.

Faults are scripted per test: ``server.faults.append(Fault(status=429, retry_after="0"))``
makes the next request fail that way; ``Fault(delay_s=2)`` answers late;
``Fault(malformed=True)`` answers with JSON that does not match the schema;
``Fault(not_json=True)`` answers with prose. Every request is recorded in
``server.requests`` (path, headers, JSON body).
"""

from __future__ import annotations

import asyncio
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette

__all__ = ["Fault", "FakeServer", "LoopbackServer", "Recorded", "answer", "estimate_tokens"]


@dataclass
class Fault:
    """One scripted misbehaviour, used by the next request."""

    status: int | None = None
    retry_after: str | None = None
    delay_s: float = 0.0
    malformed: bool = False
    not_json: bool = False


@dataclass
class Recorded:
    """One request the fake received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def estimate_tokens(text: str) -> int:
    """The fakes' own token count: one per 4 characters (rounded up)."""
    return -(-len(text) // 4)


class LoopbackServer:
    """Serves a Starlette app (``app()``, defined by subclasses) on a free loopback port with
    uvicorn; ``start()``/``stop()`` or ``async with``. Requests are logged in ``requests``."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[Recorded] = []
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def app(self) -> Starlette:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Self:
        """Serve; returns once listening."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(self.app(), log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


@dataclass
class FakeServer(LoopbackServer):
    """Base of the provider fakes: a loopback server, scripted faults and a request log.

    A dataclass, so each fake declares its own options as fields.

    Attributes:
        context_tokens: prompts estimated above this many tokens get the provider's
            real "prompt too long" error.
    """

    context_tokens: int = 1_000_000
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        LoopbackServer.__init__(self)

    def next_fault(self) -> Fault | None:
        return self.faults.pop(0) if self.faults else None

    def reset(self) -> None:
        self.faults.clear()
        self.requests.clear()


# --- what the fake models "think" ------------------------------------------------------
# Structured answers computed from the prompt with keyword rules. The task is recognised
# from the requested schema's property names, like a real model reads the schema. The rules
# are deliberately independent of Earshot's local analyzers.

HOT_WORDS = {
    "hate": 3,
    "stupid": 3,
    "idiot": 3,
    "liar": 3,
    "shut": 2,
    "ridiculous": 2,
    "never": 1,
    "always": 1,
    "selfish": 2,
    "sick": 1,
    "fault": 1,
    "dare": 2,
    "angry": 2,
    "furious": 3,
    "yell": 2,
    "out": 1,
}
FILLERS = ("um", "uh", "like", "you know", "basically", "actually")


def _props(schema: dict[str, Any]) -> set[str]:
    return set((schema or {}).get("properties", {}))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def answer(schema: dict[str, Any], system: str, user: str) -> dict[str, Any]:
    """A JSON answer for ``schema`` given the system instructions and the user input."""
    props = _props(schema)
    if "temperature" in props:
        return _temperature(user)
    if "action_items" in props:
        return _meeting(user)
    if "suggested_template_id" in props:
        return _template(system + "\n" + user, user)
    if "questions" in props:
        return _questions(user)
    if "covered_concepts" in props:
        return _domain(user)
    if "filler_words" in props:
        return _communication(user)
    if {"title", "summary"} <= props:
        return _summary(user)
    if {"skills", "years_experience"} <= props:
        return _skills(user)
    return {}


TECH_NAMES = ("Python", "SQL", "Rust", "Go", "Docker", "Kubernetes", "PyTorch", "Terraform", "Kafka")


def _skills(text: str) -> dict[str, Any]:
    """Resume skills: the known technology names in the text, in order; the largest "N years"."""
    found = [t for t in re.findall(r"[A-Za-z+#]+", text) if t in TECH_NAMES]
    years = [float(y) for y in re.findall(r"(\d+(?:\.\d+)?)\s+years", text)]
    return {"skills": list(dict.fromkeys(found)), "years_experience": max(years) if years else None}


def _temperature(text: str) -> dict[str, Any]:
    words = _words(text)
    heat = sum(HOT_WORDS.get(w, 0) for w in words) + text.count("!")
    density = 100.0 * heat / max(1, len(words))
    temperature = int(max(1, min(100, round(8 + 4 * density))))
    return {
        "temperature": temperature,
        "confidence": round(min(0.95, 0.4 + len(words) / 400), 2),
        "analysis_summary": (
            "The speakers trade accusations and raise their voices."
            if temperature > 50
            else "A friendly, relaxed exchange without conflict."
        ),
        "drivers": ["insults", "exclamations"] if temperature > 50 else [],
    }


_COMMIT = re.compile(r"\bI(?:'ll| will) ([^.?!]+)", re.I)
_ASK = re.compile(r"\b([A-Z][a-z]+), (?:can you|please|could you) ([^.?!]+)")


def _sentences(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        _speaker, _, said = line.partition(": ")
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", said or line) if s.strip()]
    return out


def _meeting(text: str) -> dict[str, Any]:
    items = []
    for line in text.splitlines():
        speaker, _, said = line.partition(": ")
        if not said:
            said, speaker = line, ""
        for m in _COMMIT.finditer(said):
            items.append({"task": m.group(1).strip(), "assigned_to": speaker or None, "due_date": None})
        for m in _ASK.finditer(said):
            items.append({"task": m.group(2).strip(), "assigned_to": m.group(1), "due_date": None})
    sentences = _sentences(text)
    return {
        "title": " ".join(sentences[0].split()[:6]) if sentences else "Meeting",
        "description": sentences[1] if len(sentences) > 1 else "",
        "summary": " ".join(sentences[:3]),
        "key_points": sentences[:5],
        "action_items": items,
    }


def _summary(text: str) -> dict[str, Any]:
    sentences = _sentences(text.replace("Part ", "\nPart "))
    return {
        "title": "Meeting",
        "description": sentences[0] if sentences else "",
        "summary": " ".join(sentences[:4]),
    }


def _template(text: str, transcript: str) -> dict[str, Any]:
    templates = re.findall(r"- id: (\S+) \| name: ([^|]+) \| keywords: ([^\n]+)", text)
    words = set(_words(transcript))
    scored = sorted(
        (
            (sum(k.strip() in words for k in kws.split(",")), tid, name.strip())
            for tid, name, kws in templates
        ),
        reverse=True,
    )
    if not scored:
        return {
            "suggested_template_id": "",
            "suggested_template_name": "",
            "confidence": 0.0,
            "reason": "no templates",
            "alternative_templates": [],
        }
    best = scored[0]
    return {
        "suggested_template_id": best[1],
        "suggested_template_name": best[2],
        "confidence": round(min(0.95, 0.3 + 0.1 * best[0]), 2),
        "reason": f"{best[0]} matching keywords",
        "alternative_templates": [
            {"template_id": t, "template_name": n, "confidence": round(min(0.9, 0.1 * s), 2)}
            for s, t, n in scored[1:3]
        ],
    }


def _questions(text: str) -> dict[str, Any]:
    skills = re.findall(r"- skill: ([^\n]+)", text)
    return {
        "questions": [
            {
                "text": f"Describe a project where you used {s.strip()} and what you would do differently.",
                "topic": s.strip(),
                "difficulty": "medium",
                "category": "technical",
                "expected_concepts": [s.strip().lower()],
            }
            for s in skills[:5]
        ]
    }


def _domain(text: str) -> dict[str, Any]:
    concepts = [c.strip() for c in re.findall(r"- concept: ([^\n]+)", text)]
    answer_text = text.split("ANSWER:", 1)[-1].lower()
    covered = [c for c in concepts if c.lower() in answer_text]
    missing = [c for c in concepts if c not in covered]
    score = round(100 * len(covered) / max(1, len(concepts)))
    return {"score": score, "covered_concepts": covered, "missing_concepts": missing, "feedback": "ok"}


def _communication(text: str) -> dict[str, Any]:
    answer_text = text.split("ANSWER:", 1)[-1].lower()
    words = _words(answer_text)
    fillers = sum(len(re.findall(rf"\b{re.escape(f)}\b", answer_text)) for f in FILLERS)
    ratio = fillers / max(1, len(words))
    score = int(max(0, min(100, round(90 - 400 * ratio))))
    return {
        "score": score,
        "clarity": score,
        "structure": 70,
        "vocabulary": min(100, len(set(words)) * 2),
        "filler_words": fillers,
        "feedback": "Fewer filler words would help." if fillers else "Clear and direct.",
    }
