"""The local question bank of the interview coach (seed 001), used when no LLM is keyed.

Every question is a :class:`Template` carrying the **key concepts** a good answer covers,
each with synonyms (matched after lemmatisation by the domain analysis,
:mod:`services.analysis.interview`), a difficulty and a category:

- :data:`SKILL_QUESTIONS`: questions per canonical skill of the skills vocabulary
  (:mod:`services.analysis.skills`); a skill with no entry gets :data:`GENERIC_SKILL`
  (a project walk-through: context, contribution, trade-offs, outcome).
- :data:`TRACKS`: per track (``data_science``, ``ml_engineering``, ``software_engineering``,
  ``product_management``, ``backend_engineering``, ``frontend_engineering``) a title, the
  skills it prefers (in order) and its core questions.
- :data:`BEHAVIOURAL`: behavioural questions (STAR: situation, task, action, result).

:func:`build_questions` picks, for ``count`` questions: one per resume skill (ranked by the
track's preferences; with no resume skills, the track's own preferred skills: *generic
questions for the track*), then the track's core questions, and always ends with one
behavioural question. Difficulty is mixed around the candidate's level (years of
experience: < 2 junior, < 5 mid, else senior; unknown: mid): each slot asks for the next
difficulty of the level's cycle (:data:`DIFFICULTY_CYCLES`) and takes the skill's template
closest to it. ``seed`` rotates the choices (``regenerate`` asks with a new seed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Difficulty = Literal["easy", "medium", "hard"]
Concepts = dict[str, tuple[str, ...]]
_LEVEL = {"easy": 0, "medium": 1, "hard": 2}


@dataclass(frozen=True)
class Template:
    """One bank question: text (``{skill}`` is filled in), key concepts -> synonyms,
    difficulty and category."""

    text: str
    concepts: Concepts
    difficulty: Difficulty = "medium"
    category: Literal["technical", "behavioural"] = "technical"


@dataclass(frozen=True)
class Track:
    """An interview track: its title, preferred skills (in order) and core questions."""

    title: str
    skills: tuple[str, ...]
    core: tuple[Template, ...] = field(default_factory=tuple)


GENERIC_SKILL = (
    Template(
        "Walk me through a project where you used {skill}. What was hard, and how did you solve it?",
        {
            "context": ("project", "problem", "goal", "team", "client"),
            "contribution": ("i build", "i design", "i implement", "i write", "i lead", "my role"),
            "trade-offs": ("trade-off", "tradeoff", "instead", "alternative", "choose", "decide"),
            "outcome": ("result", "improve", "reduce", "increase", "percent", "outcome", "impact"),
        },
        "easy",
    ),
    Template(
        "How would you explain the key ideas of {skill} to a new teammate, and where do people go wrong?",
        {
            "core idea": ("concept", "idea", "principle", "basically", "fundamental"),
            "example": ("example", "instance", "such as", "case"),
            "pitfalls": ("mistake", "pitfall", "wrong", "bug", "trap", "careful", "avoid"),
        },
        "medium",
    ),
)

SKILL_QUESTIONS: dict[str, tuple[Template, ...]] = {
    "Python": (
        Template(
            "What is the difference between a list, a tuple and a set in Python, and when do you use each?",
            {
                "mutability": ("mutable", "immutable", "change", "modify"),
                "ordering": ("order", "ordered", "index", "sequence"),
                "uniqueness": ("unique", "duplicate", "membership", "hash"),
            },
            "easy",
        ),
        Template(
            "How do generators work in Python and why would you use one?",
            {
                "lazy evaluation": ("lazy", "on demand", "one at a time", "yield"),
                "memory": ("memory", "large", "stream"),
                "iteration protocol": ("iterator", "next", "iterate", "loop"),
            },
            "medium",
        ),
        Template(
            "How does the global interpreter lock affect concurrency in Python, and how do you work "
            "around it?",
            {
                "gil": ("gil", "global interpreter lock", "one thread"),
                "threads for i/o": ("thread", "i/o", "io bound", "network", "asyncio"),
                "processes for cpu": ("process", "multiprocessing", "cpu bound", "parallel"),
                "native code": ("numpy", "c extension", "native", "release"),
            },
            "hard",
        ),
    ),
    "SQL": (
        Template(
            "Explain the difference between an inner join and a left join, with an example.",
            {
                "matching rows": ("match", "both table", "common", "inner"),
                "unmatched rows": ("null", "all row", "left", "missing", "keep"),
                "example": ("example", "customer", "order", "table"),
            },
            "easy",
        ),
        Template(
            "A query that used to be fast is now slow. How do you find out why and fix it?",
            {
                "query plan": ("explain", "plan", "analyze", "scan"),
                "indexes": ("index", "indexes", "b-tree"),
                "statistics": ("statistic", "vacuum", "cardinality", "data grow"),
                "rewrite": ("rewrite", "subquery", "join order", "filter"),
            },
            "hard",
        ),
        Template(
            "How do window functions differ from GROUP BY? Give a use case.",
            {
                "aggregation": ("group by", "aggregate", "sum", "count", "collapse"),
                "per-row results": ("each row", "every row", "keep row", "over", "partition"),
                "use case": ("rank", "running total", "moving average", "row_number", "lag"),
            },
            "medium",
        ),
    ),
    "Machine Learning": (
        Template(
            "How do you detect and prevent overfitting?",
            {
                "validation": (
                    "validation",
                    "holdout",
                    "held-out",
                    "cross-validation",
                    "test set",
                    "unseen data",
                    "never saw",
                    "never seen",
                ),
                "regularization": (
                    "regularization",
                    "regularisation",
                    "dropout",
                    "l2",
                    "l1",
                    "penalty",
                    "penalize",
                    "penalise",
                    "weight decay",
                ),
                "more data": ("more data", "augmentation", "augment", "collect data"),
                "simpler model": (
                    "simpler model",
                    "fewer parameter",
                    "early stopping",
                    "prune",
                    "complexity",
                ),
            },
            "easy",
        ),
        Template(
            "Explain the bias-variance trade-off and how it guides your model choice.",
            {
                "bias": ("bias", "underfit", "too simple"),
                "variance": ("variance", "overfit", "too complex", "sensitive"),
                "trade-off": ("trade-off", "tradeoff", "balance", "sweet spot"),
                "model choice": ("complexity", "regularization", "ensemble", "model choice"),
            },
            "medium",
        ),
        Template(
            "Your model does well offline but poorly in production. What could be wrong?",
            {
                "data drift": ("drift", "distribution shift", "change over time", "skew"),
                "leakage": ("leakage", "leak", "future information", "target leak"),
                "training-serving skew": ("feature pipeline", "preprocessing", "serving", "mismatch"),
                "monitoring": ("monitor", "alert", "dashboard", "log"),
            },
            "hard",
        ),
    ),
    "scikit-learn": (
        Template(
            "How do you build a preprocessing and modelling pipeline in scikit-learn and why use a Pipeline?",
            {
                "pipeline": ("pipeline", "columntransformer", "step"),
                "leakage": ("leakage", "leak", "fit on train", "only training"),
                "cross-validation": ("cross-validation", "cross validation", "gridsearchcv", "cv"),
            },
            "medium",
        ),
    ),
    "Statistics": (
        Template(
            "What is a p-value, and what does it not tell you?",
            {
                "null hypothesis": ("null hypothesis", "null", "no effect"),
                "probability of data": ("probability", "as extreme", "observe", "chance"),
                "not effect size": ("effect size", "practical", "magnitude", "not the probability"),
            },
            "easy",
        ),
        Template(
            "How would you explain confidence intervals to a product manager?",
            {
                "range": ("range", "interval", "between"),
                "uncertainty": ("uncertain", "uncertainty", "sample", "estimate"),
                "confidence level": ("95", "confidence level", "repeat", "procedure"),
            },
            "medium",
        ),
    ),
    "A/B Testing": (
        Template(
            "How would you design an A/B test for a new product feature, and how do you decide it worked?",
            {
                "hypothesis": ("hypothesis", "null", "expect"),
                "sample size": ("sample size", "power", "how many user", "duration"),
                "significance": ("significance", "significant", "p-value", "confidence"),
                "metric": ("metric", "conversion", "retention", "kpi", "measure"),
                "randomisation": ("random", "randomize", "randomise", "control group", "treatment"),
            },
            "medium",
        ),
    ),
    "Pandas": (
        Template(
            "How do you handle missing data in a pandas DataFrame?",
            {
                "detect": ("isna", "isnull", "count", "detect", "find"),
                "drop": ("dropna", "drop", "remove"),
                "impute": ("fillna", "impute", "imputation", "mean", "median", "forward fill"),
                "bias": ("bias", "why missing", "mechanism", "distribution"),
            },
            "easy",
        ),
    ),
    "Deep Learning": (
        Template(
            "Explain backpropagation and the vanishing gradient problem.",
            {
                "chain rule": ("chain rule", "derivative", "gradient", "partial"),
                "weight update": ("update", "optimizer", "learning rate", "descent"),
                "vanishing gradients": ("vanish", "small gradient", "sigmoid", "deep network"),
                "remedies": ("relu", "residual", "skip connection", "batch norm", "normalization"),
            },
            "medium",
        ),
    ),
    "PyTorch": (
        Template(
            "Walk me through a training loop in PyTorch.",
            {
                "forward pass": ("forward", "model(", "prediction", "output"),
                "loss": ("loss", "criterion", "cross entropy"),
                "backward pass": ("backward", "autograd", "gradient"),
                "optimizer step": ("optimizer", "step", "zero_grad", "zero grad"),
            },
            "easy",
        ),
    ),
    "TensorFlow": (
        Template(
            "How do you train and serve a model with TensorFlow or Keras?",
            {
                "model definition": ("sequential", "layer", "functional", "model"),
                "training": ("fit", "epoch", "loss", "compile"),
                "serving": ("savedmodel", "serving", "export", "tf serving"),
            },
            "medium",
        ),
    ),
    "Transformers": (
        Template(
            "How does self-attention work in a transformer, and why did it replace recurrence?",
            {
                "queries keys values": ("query", "key", "value", "qkv"),
                "attention weights": ("softmax", "weight", "score", "dot product"),
                "parallelism": ("parallel", "recurrence", "sequential", "long range"),
                "positional information": ("position", "positional", "encoding", "order"),
            },
            "hard",
        ),
    ),
    "NLP": (
        Template(
            "How would you build a text classifier, from raw text to evaluation?",
            {
                "tokenization": ("token", "tokenize", "tokenise", "vocabulary"),
                "representation": ("embedding", "tf-idf", "vector", "bag of words"),
                "model": ("classifier", "logistic", "transformer", "fine-tune", "bert"),
                "evaluation": ("precision", "recall", "f1", "accuracy", "confusion"),
            },
            "medium",
        ),
    ),
    "MLOps": (
        Template(
            "How would you take a trained model to production and keep it healthy?",
            {
                "serving": ("serve", "serving", "endpoint", "api", "deploy"),
                "monitoring": ("monitor", "drift", "metric", "alert"),
                "versioning": ("version", "registry", "reproducible", "track"),
                "rollback": ("rollback", "roll back", "canary", "shadow", "a/b"),
            },
            "medium",
        ),
    ),
    "Docker": (
        Template(
            "What is the difference between a Docker image and a container, and how do you keep "
            "images small?",
            {
                "image vs container": ("image", "container", "instance", "running"),
                "layers": ("layer", "cache", "dockerfile"),
                "small images": ("multi-stage", "slim", "alpine", "small", "dockerignore"),
            },
            "easy",
        ),
    ),
    "Kubernetes": (
        Template(
            "How does Kubernetes keep a service available when a node fails or load grows?",
            {
                "replicas": ("replica", "replicaset", "deployment", "pod"),
                "health checks": ("probe", "liveness", "readiness", "health"),
                "scaling": ("autoscal", "hpa", "scale", "horizontal"),
                "scheduling": ("schedule", "reschedule", "node", "restart"),
            },
            "medium",
        ),
    ),
    "AWS": (
        Template(
            "How would you design a cheap, reliable data pipeline on AWS?",
            {
                "storage": ("s3", "bucket", "storage"),
                "compute": ("lambda", "ec2", "glue", "emr", "batch"),
                "reliability": ("retry", "idempotent", "dead letter", "monitor", "cloudwatch"),
                "cost": ("cost", "cheap", "spot", "lifecycle", "pay"),
            },
            "medium",
        ),
    ),
    "Spark": (
        Template(
            "Why is a Spark job slow, and what do you look at first?",
            {
                "partitions": ("partition", "repartition", "coalesce"),
                "shuffles": ("shuffle", "wide transformation", "join", "groupby"),
                "skew": ("skew", "hot key", "salting", "uneven"),
                "lazy evaluation": ("lazy", "action", "dag", "cache", "persist"),
            },
            "hard",
        ),
    ),
    "System Design": (
        Template(
            "How would you design a rate limiter for a public API?",
            {
                "algorithm": ("token bucket", "leaky bucket", "sliding window", "fixed window"),
                "shared state": ("redis", "memory", "counter", "distributed"),
                "client response": ("429", "retry-after", "header", "reject"),
                "granularity": ("per user", "per key", "per ip", "quota"),
            },
            "hard",
        ),
        Template(
            "How would you design a URL shortener?",
            {
                "id generation": ("hash", "base62", "counter", "unique id"),
                "storage": ("database", "key-value", "table", "store"),
                "caching": ("cache", "redis", "cdn"),
                "scale": ("shard", "replica", "load balancer", "scale"),
            },
            "medium",
        ),
    ),
    "REST APIs": (
        Template(
            "What makes a REST API well designed?",
            {
                "resources": ("resource", "noun", "url", "path"),
                "http methods": ("get", "post", "put", "delete", "idempotent"),
                "status codes": ("status code", "404", "400", "201", "error"),
                "versioning": ("version", "backward compatible", "deprecat"),
            },
            "easy",
        ),
    ),
    "Software Testing": (
        Template(
            "How do you decide what to unit test, what to integration test, and what to mock?",
            {
                "test pyramid": ("pyramid", "many unit", "few end-to-end", "fast"),
                "integration": ("integration", "database", "real service", "contract"),
                "mocking": ("mock", "fake", "stub", "boundary"),
            },
            "medium",
        ),
    ),
    "Data Structures & Algorithms": (
        Template(
            "When would you use a hash map instead of a sorted array, and what are the costs?",
            {
                "lookup cost": ("o(1)", "constant", "lookup", "hash"),
                "ordering": ("sorted", "order", "range query", "binary search", "log n"),
                "memory": ("memory", "space", "overhead"),
                "collisions": ("collision", "worst case", "resize"),
            },
            "medium",
        ),
    ),
    "JavaScript": (
        Template(
            "Explain the JavaScript event loop and how promises fit in.",
            {
                "single thread": ("single thread", "one thread", "call stack"),
                "queues": ("queue", "microtask", "macrotask", "callback"),
                "promises": ("promise", "async", "await", "then"),
            },
            "medium",
        ),
    ),
    "React": (
        Template(
            "How do you keep a large React application fast?",
            {
                "re-renders": ("re-render", "render", "memo", "usememo", "usecallback"),
                "code splitting": ("split", "lazy", "bundle", "suspense"),
                "state placement": ("state", "context", "lift", "store"),
            },
            "medium",
        ),
    ),
    "Java": (
        Template(
            "How does garbage collection work in the JVM, and how do you tune it?",
            {
                "generations": ("young", "old", "generation", "eden"),
                "collectors": ("g1", "zgc", "collector", "parallel"),
                "tuning": ("heap", "pause", "xmx", "tune", "profil"),
            },
            "hard",
        ),
    ),
    "Product Strategy": (
        Template(
            "How do you decide what goes on the roadmap next quarter?",
            {
                "prioritisation": ("priorit", "rice", "impact", "effort", "moscow"),
                "customer evidence": ("customer", "user", "research", "feedback", "data"),
                "business goals": ("goal", "okr", "strategy", "revenue", "vision"),
                "trade-offs": ("trade-off", "say no", "cut", "scope"),
            },
            "medium",
        ),
    ),
    "User Research": (
        Template(
            "How would you find out whether users actually need a feature before building it?",
            {
                "interviews": ("interview", "talk to user", "conversation", "customer"),
                "prototype": ("prototype", "mockup", "fake door", "mvp"),
                "evidence": ("data", "survey", "usage", "metric", "signal"),
                "bias": ("leading question", "bias", "what they do", "behaviour"),
            },
            "easy",
        ),
    ),
    "Product Analytics": (
        Template(
            "Daily active users dropped 10% last week. How do you investigate?",
            {
                "segmentation": ("segment", "platform", "region", "cohort", "break down"),
                "data quality": ("tracking", "logging", "instrumentation", "bug", "data issue"),
                "external factors": ("holiday", "season", "competitor", "external", "release"),
                "funnel": ("funnel", "step", "conversion", "drop-off"),
            },
            "medium",
        ),
    ),
    "Stakeholder Management": (
        Template(
            "Engineering and sales disagree on the next priority. How do you handle it?",
            {
                "listen": ("listen", "understand", "concern", "perspective"),
                "data": ("data", "evidence", "impact", "metric"),
                "decision": ("decide", "decision", "trade-off", "align", "agree"),
                "communication": ("communicate", "explain", "transparent", "update"),
            },
            "medium",
        ),
    ),
    "Agile": (
        Template(
            "What does a good sprint look like, and what do you do when scope creeps in?",
            {
                "planning": ("planning", "backlog", "estimate", "commit"),
                "scope control": ("scope", "push back", "next sprint", "trade-off"),
                "feedback": ("retro", "retrospective", "review", "demo", "feedback"),
            },
            "easy",
        ),
    ),
}

TRACKS: dict[str, Track] = {
    "data_science": Track(
        "Data science",
        ("Statistics", "A/B Testing", "Python", "Pandas", "SQL", "Machine Learning", "scikit-learn"),
        (
            Template(
                "How do you handle missing data and outliers before modelling?",
                {
                    "imputation": ("impute", "imputation", "mean", "median", "fill"),
                    "outliers": ("outlier", "extreme", "anomal", "iqr", "z-score"),
                    "bias": ("bias", "distribution", "why missing", "skew"),
                },
                "medium",
            ),
            Template(
                "How would you choose an evaluation metric for an imbalanced classification problem?",
                {
                    "imbalance": ("imbalance", "imbalanced", "rare", "minority", "skewed class"),
                    "precision and recall": ("precision", "recall", "f1", "pr curve"),
                    "business cost": ("cost", "false positive", "false negative", "business"),
                },
                "hard",
            ),
        ),
    ),
    "ml_engineering": Track(
        "Machine learning engineering",
        ("Python", "PyTorch", "TensorFlow", "MLOps", "Docker", "Kubernetes", "Machine Learning"),
        (
            Template(
                "How would you take a trained model to production and keep it healthy?",
                SKILL_QUESTIONS["MLOps"][0].concepts,
                "medium",
            ),
            Template(
                "How do you make model inference fast and cheap?",
                {
                    "batching": ("batch", "batching", "throughput"),
                    "model compression": ("quantiz", "distill", "prune", "smaller model", "int8"),
                    "hardware": ("gpu", "cpu", "accelerator", "onnx", "tensorrt"),
                    "caching": ("cache", "precompute", "reuse"),
                },
                "hard",
            ),
        ),
    ),
    "software_engineering": Track(
        "Software engineering",
        (
            "Data Structures & Algorithms",
            "System Design",
            "Python",
            "Java",
            "Go",
            "JavaScript",
            "SQL",
            "REST APIs",
            "Software Testing",
        ),
        (
            Template(
                "How would you design a rate limiter for a public API?",
                SKILL_QUESTIONS["System Design"][0].concepts,
                "hard",
            ),
            Template(
                "How do you review a pull request?",
                {
                    "correctness": ("correct", "bug", "edge case", "logic"),
                    "tests": ("test", "coverage"),
                    "readability": ("readable", "naming", "clear", "maintainable"),
                    "kind feedback": ("kind", "constructive", "suggest", "explain why"),
                },
                "easy",
            ),
        ),
    ),
    "product_management": Track(
        "Product management",
        ("Product Strategy", "User Research", "Product Analytics", "Stakeholder Management", "Agile", "SQL"),
        (
            Template(
                "How would you measure the success of a feature you launched?",
                {
                    "goal": ("goal", "objective", "problem", "why"),
                    "metrics": ("metric", "kpi", "adoption", "retention", "conversion"),
                    "baseline": ("baseline", "before", "compare", "control", "a/b"),
                    "guardrails": ("guardrail", "counter metric", "side effect", "harm"),
                },
                "medium",
            ),
            Template(
                "Tell me about a product you love and how you would improve it.",
                {
                    "user": ("user", "customer", "persona", "who"),
                    "problem": ("problem", "pain", "need", "friction"),
                    "solution": ("feature", "solution", "improve", "change"),
                    "measure": ("measure", "metric", "success"),
                },
                "easy",
            ),
        ),
    ),
    "backend_engineering": Track(
        "Backend engineering",
        ("Python", "Java", "Go", "SQL", "PostgreSQL", "REST APIs", "Docker", "Kubernetes", "AWS"),
        (
            Template(
                "How would you design a rate limiter for a public API?",
                SKILL_QUESTIONS["System Design"][0].concepts,
                "hard",
            ),
        ),
    ),
    "frontend_engineering": Track(
        "Frontend engineering",
        ("JavaScript", "TypeScript", "React", "Node.js"),
        (
            Template(
                "How do you keep a large web application fast?",
                {
                    "bundle size": ("bundle", "split", "lazy", "tree shaking"),
                    "rendering": ("render", "memo", "virtual", "paint"),
                    "caching": ("cache", "caching", "cdn", "service worker"),
                },
                "medium",
            ),
        ),
    ),
}

BEHAVIOURAL: tuple[Template, ...] = (
    Template(
        "Tell me about a time you disagreed with a teammate about a technical decision. What happened?",
        {
            "situation": ("situation", "project", "when", "team", "context"),
            "action": ("i decide", "i propose", "i suggest", "i talk", "i explain", "we discuss", "i listen"),
            "result": ("result", "outcome", "learn", "in the end", "agree"),
        },
        "medium",
        "behavioural",
    ),
    Template(
        "Tell me about a project that failed or slipped. What did you learn?",
        {
            "situation": ("situation", "project", "deadline", "when"),
            "ownership": ("i should", "my mistake", "i own", "responsib", "i realise"),
            "result": ("result", "outcome", "deliver", "recover"),
            "lesson": ("learn", "lesson", "next time", "now i", "change"),
        },
        "medium",
        "behavioural",
    ),
)

DIFFICULTY_CYCLES: dict[str, tuple[Difficulty, ...]] = {
    "junior": ("easy", "easy", "medium"),
    "mid": ("easy", "medium", "medium", "hard"),
    "senior": ("medium", "hard", "hard"),
}


@dataclass(frozen=True)
class BankQuestion:
    """A question chosen from the bank: text, topic, category, difficulty and key concepts."""

    text: str
    topic: str
    category: Literal["technical", "behavioural"]
    difficulty: Difficulty
    concepts: Concepts


def level(years: float | None) -> str:
    """``junior`` (< 2 years), ``mid`` (< 5 or unknown) or ``senior``."""
    if years is None:
        return "mid"
    return "junior" if years < 2 else "mid" if years < 5 else "senior"


def _closest(templates: tuple[Template, ...], wanted: Difficulty, seed: int) -> Template:
    ranked = sorted(
        range(len(templates)),
        key=lambda i: (abs(_LEVEL[templates[i].difficulty] - _LEVEL[wanted]), (i + seed) % len(templates)),
    )
    return templates[ranked[0]]


def build_questions(
    track: str, skills: list[str], years: float | None, count: int = 5, seed: int = 0
) -> list[BankQuestion]:
    """``count`` questions for ``track`` and the candidate's canonical ``skills`` (see the module
    docstring); no skills gives the track's generic questions.

    Raises:
        ValueError: unknown track or ``count`` < 1.
    """
    if track not in TRACKS:
        raise ValueError(f"unknown track {track!r}; choose from {', '.join(TRACKS)}")
    if count < 1:
        raise ValueError("count must be at least 1")
    spec = TRACKS[track]
    cycle = DIFFICULTY_CYCLES[level(years)]
    preferred = list(spec.skills)
    ranked = sorted(
        dict.fromkeys(skills),
        key=lambda s: (preferred.index(s) if s in preferred else len(preferred), skills.index(s)),
    )
    ranked = ranked or preferred
    # rotate the skill order with the seed so a regeneration asks about other skills first
    if seed and len(ranked) > 1:
        shift = seed % len(ranked)
        ranked = ranked[shift:] + ranked[:shift]
    out: list[BankQuestion] = []
    seen: set[str] = set()

    def add(template: Template, topic: str, skill: str | None) -> None:
        text = template.text.format(skill=skill or topic)
        if text in seen:
            return
        seen.add(text)
        out.append(BankQuestion(text, topic, template.category, template.difficulty, dict(template.concepts)))

    technical = max(0, count - 1)
    for skill in ranked:
        if len(out) >= max(0, technical - min(1, len(spec.core))):
            break
        add(
            _closest(SKILL_QUESTIONS.get(skill, GENERIC_SKILL), cycle[len(out) % len(cycle)], seed),
            skill,
            skill,
        )
    for i in range(len(spec.core)):
        if len(out) >= technical:
            break
        add(spec.core[(i + seed) % len(spec.core)], track, None)
    i = 0
    while len(out) < technical and i < 2 * len(ranked):
        # more questions than skills and core ones: the skills' other templates
        skill = ranked[i % len(ranked)]
        templates = SKILL_QUESTIONS.get(skill, GENERIC_SKILL)
        add(templates[(i // len(ranked) + 1 + seed) % len(templates)], skill, skill)
        i += 1
    add(BEHAVIOURAL[seed % len(BEHAVIOURAL)], "behavioural", None)
    return out[:count] if count > 1 else out[-1:]


def concepts_for_question(text: str) -> Concepts:
    """Key concepts of a bank question found by its exact text (empty when not in the bank)."""
    for templates in (*SKILL_QUESTIONS.values(), *(t.core for t in TRACKS.values()), BEHAVIOURAL):
        for template in templates:
            if "{skill}" not in template.text and template.text == text:
                return dict(template.concepts)
    for template in GENERIC_SKILL:
        prefix, _, suffix = template.text.partition("{skill}")
        if text.startswith(prefix) and text.endswith(suffix):
            return dict(template.concepts)
    return {}
