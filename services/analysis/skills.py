"""The skills vocabulary of the interview coach (seed 001): canonical names, areas, aliases.

A resume's skills are *normalised* against :data:`VOCABULARY`: every canonical skill has an
area (the knowledge set groups skills by it) and the aliases a resume may spell it with,
matched case-insensitively on token boundaries (``"sklearn"``, ``"scikit learn"`` ->
``"scikit-learn"``; ``"k8s"`` -> ``"Kubernetes"``; ``"Postgres"`` -> ``"PostgreSQL"``).
Skills not in the vocabulary are not reported: the vocabulary is the documented contract
of what the local question bank can ask about. Adding a skill is one line here.

Areas (:data:`AREAS`): programming languages, data & databases, machine learning, deep
learning, data science & statistics, MLOps & cloud, software engineering, web & frontend,
product & management.
"""

from __future__ import annotations

import re

AREAS = (
    "programming_languages",
    "data_and_databases",
    "machine_learning",
    "deep_learning",
    "data_science_and_statistics",
    "mlops_and_cloud",
    "software_engineering",
    "web_and_frontend",
    "product_and_management",
)

#: canonical skill -> (area, aliases; the canonical name itself always matches)
VOCABULARY: dict[str, tuple[str, tuple[str, ...]]] = {
    # programming languages
    "Python": ("programming_languages", ("python3", "py")),
    "Java": ("programming_languages", ()),
    "JavaScript": ("programming_languages", ("js", "ecmascript")),
    "TypeScript": ("programming_languages", ("ts",)),
    "Go": ("programming_languages", ("golang",)),
    "C++": ("programming_languages", ("cpp",)),
    "Rust": ("programming_languages", ()),
    "R": ("programming_languages", ("r language",)),
    "Scala": ("programming_languages", ()),
    # data and databases
    "SQL": ("data_and_databases", ("t-sql", "pl/sql")),
    "PostgreSQL": ("data_and_databases", ("postgres", "psql")),
    "MySQL": ("data_and_databases", ()),
    "MongoDB": ("data_and_databases", ("mongo",)),
    "Redis": ("data_and_databases", ()),
    "Spark": ("data_and_databases", ("pyspark", "apache spark")),
    "Kafka": ("data_and_databases", ("apache kafka",)),
    "Airflow": ("data_and_databases", ("apache airflow",)),
    "Pandas": ("data_and_databases", ()),
    "NumPy": ("data_and_databases", ("numpy",)),
    # machine learning
    "Machine Learning": ("machine_learning", ("ml",)),
    "scikit-learn": ("machine_learning", ("sklearn", "scikit learn", "scikitlearn")),
    "XGBoost": ("machine_learning", ("lightgbm", "gradient boosting")),
    "NLP": ("machine_learning", ("natural language processing",)),
    "Computer Vision": ("machine_learning", ("cv", "opencv", "image recognition")),
    "Recommender Systems": ("machine_learning", ("recommendation systems", "recommender system")),
    # deep learning
    "Deep Learning": ("deep_learning", ("neural networks", "neural network", "dl")),
    "PyTorch": ("deep_learning", ("torch",)),
    "TensorFlow": ("deep_learning", ("tf", "keras")),
    "Transformers": ("deep_learning", ("llm", "llms", "large language models", "bert", "gpt")),
    # data science and statistics
    "Statistics": ("data_science_and_statistics", ("statistical analysis", "statistical")),
    "A/B Testing": ("data_science_and_statistics", ("ab testing", "a/b tests", "experimentation")),
    "Data Visualization": (
        "data_science_and_statistics",
        ("tableau", "power bi", "matplotlib", "seaborn", "data visualisation"),
    ),
    # MLOps and cloud
    "MLOps": ("mlops_and_cloud", ("model deployment", "model serving", "mlflow", "kubeflow")),
    "Docker": ("mlops_and_cloud", ("containers", "docker compose")),
    "Kubernetes": ("mlops_and_cloud", ("k8s", "helm")),
    "AWS": ("mlops_and_cloud", ("amazon web services", "ec2", "s3", "sagemaker")),
    "GCP": ("mlops_and_cloud", ("google cloud", "bigquery")),
    "Azure": ("mlops_and_cloud", ("microsoft azure",)),
    "CI/CD": ("mlops_and_cloud", ("continuous integration", "github actions", "jenkins", "gitlab ci")),
    # software engineering
    "System Design": ("software_engineering", ("distributed systems", "scalability", "microservices")),
    "REST APIs": ("software_engineering", ("rest", "restful", "rest api", "api design")),
    "Software Testing": (
        "software_engineering",
        ("unit testing", "integration testing", "test automation", "pytest", "junit", "tdd"),
    ),
    "Git": ("software_engineering", ("github", "gitlab", "version control")),
    "Data Structures & Algorithms": (
        "software_engineering",
        ("algorithms", "data structures", "dsa"),
    ),
    "Linux": ("software_engineering", ("unix", "bash", "shell scripting")),
    # web and frontend
    "React": ("web_and_frontend", ("react.js", "reactjs")),
    "Node.js": ("web_and_frontend", ("node", "nodejs", "express")),
    "Django": ("web_and_frontend", ()),
    "FastAPI": ("web_and_frontend", ("flask",)),
    # product and management
    "Product Strategy": ("product_and_management", ("product roadmap", "roadmap", "product vision")),
    "User Research": ("product_and_management", ("customer interviews", "usability testing", "ux research")),
    "Agile": ("product_and_management", ("scrum", "kanban", "sprint planning")),
    "Stakeholder Management": ("product_and_management", ("stakeholders", "cross-functional")),
    "Product Analytics": ("product_and_management", ("kpis", "okrs", "metrics", "funnel analysis")),
}

#: Short aliases that are also ordinary words or initials: matched only in this exact
#: capitalisation (``"R"``, ``"Go"``, ``"ML"``); aliases in :data:`_SKIPPED` never match
#: alone (too common as plain words; the skill's longer aliases cover it).
_CASE_SENSITIVE = {
    "R": "R",
    "Go": "Go",
    "ts": "TS",
    "tf": "TF",
    "cv": "CV",
    "dl": "DL",
    "ml": "ML",
    "js": "JS",
}
_SKIPPED = {"rest", "node", "metrics", "roadmap", "py"}


def _pattern(alias: str, case_sensitive: bool) -> re.Pattern[str]:
    body = re.escape(alias).replace(r"\ ", r"[\s-]+")
    tail = r"(?![A-Za-z0-9+#&.])" if len(alias) == 1 else r"(?![A-Za-z0-9+#])"
    return re.compile(rf"(?<![A-Za-z0-9+#/]){body}{tail}", 0 if case_sensitive else re.I)


def _compile() -> list[tuple[str, re.Pattern[str]]]:
    out: list[tuple[str, re.Pattern[str]]] = []
    for canonical, (_area, aliases) in VOCABULARY.items():
        for alias in (canonical, *aliases):
            if alias in _SKIPPED:
                continue
            if alias in _CASE_SENSITIVE:
                out.append((canonical, _pattern(_CASE_SENSITIVE[alias], True)))
            else:
                out.append((canonical, _pattern(alias, False)))
    return out


_PATTERNS = _compile()


def normalise_skills(*texts: str) -> list[str]:
    """Canonical skills found in ``texts`` (free text or skill lists), in vocabulary order.

    ``"sklearn, Postgres and k8s"`` -> ``["PostgreSQL", "scikit-learn", "Kubernetes"]``.
    """
    joined = "\n".join(texts)
    found = {canonical for canonical, pattern in _PATTERNS if pattern.search(joined)}
    return [name for name in VOCABULARY if name in found]


def canonical_skill(name: str) -> str | None:
    """The canonical name of one skill as written (``"sklearn"`` -> ``"scikit-learn"``), or None."""
    found = normalise_skills(name)
    return found[0] if found else None


def area_of(skill: str) -> str | None:
    """The area of a canonical skill, or None when it is not in the vocabulary."""
    entry = VOCABULARY.get(skill)
    return entry[0] if entry else None


def knowledge_set(skills: list[str]) -> dict[str, list[str]]:
    """Skills grouped by area, areas in :data:`AREAS` order, empty areas left out.

    Skills are normalised first; unknown ones are dropped.
    """
    canonical = normalise_skills("\n".join(skills))
    return {
        area: [s for s in canonical if VOCABULARY[s][0] == area]
        for area in AREAS
        if any(VOCABULARY[s][0] == area for s in canonical)
    }
