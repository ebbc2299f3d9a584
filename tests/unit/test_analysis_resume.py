"""Resume extraction: PDF (made here with fpdf2), .docx, plain text; skills normalised with
aliases; years from merged date ranges; education and roles; the bad files refused."""

from __future__ import annotations

import io
from datetime import date

import pytest

from services.analysis.resume import (
    MAX_RESUME_BYTES,
    ResumeError,
    extract_resume,
    parse_resume,
    sniff_resume,
)
from services.analysis.skills import canonical_skill, knowledge_set, normalise_skills

RESUME = """Jane Doe
Machine learning engineer

Summary
ML engineer who ships models.

Experience
Senior ML Engineer at Acme | Jan 2020 - Present
Built serving on Kubernetes (k8s) with Docker; PyTorch and sklearn models.
Data Scientist, Initech, 03/2018 - 06/2020
Freelance consultant 2019 - 2019
A/B testing with Postgres and pandas.

Education
M.Sc. Computer Science, Some University, 2014 - 2016

Skills
Python, scikit learn, Spark
"""
TODAY = date(2024, 12, 15)


def make_pdf(text: str, password: str | None = None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in text.splitlines():
        pdf.multi_cell(0, 6, line or " ", new_x="LMARGIN", new_y="NEXT")
    data = bytes(pdf.output())
    if password is None:
        return data
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_skills_vocabulary_normalises_aliases() -> None:
    assert canonical_skill("sklearn") == "scikit-learn" and canonical_skill("k8s") == "Kubernetes"
    assert canonical_skill("Postgres") == "PostgreSQL" and canonical_skill("astrology") is None
    assert normalise_skills("HTML and R&D, John R. Smith") == []  # no false "R" or "ML"
    assert normalise_skills("R, Go and ML") == ["Go", "R", "Machine Learning"]
    groups = knowledge_set(["sklearn", "pytorch", "docker", "nonsense"])
    assert groups == {
        "machine_learning": ["scikit-learn"],
        "deep_learning": ["PyTorch"],
        "mlops_and_cloud": ["Docker"],
    }


def test_years_merge_overlapping_jobs_and_ignore_education() -> None:
    fields = parse_resume(RESUME, today=TODAY)
    # Mar 2018 .. Dec 2024 once (2019 and 2018-2020 overlap the others): 82 months
    assert fields.years_experience == pytest.approx(82 / 12, abs=0.05)
    assert len(fields.experience) == 3 and all("2014" not in r.start for r in fields.experience)
    assert fields.education == ["M.Sc. Computer Science, Some University, 2014 - 2016"]
    assert "Senior ML Engineer" in fields.roles and "Data Scientist" in fields.roles
    for skill in ("Python", "scikit-learn", "PyTorch", "Kubernetes", "Docker", "PostgreSQL", "A/B Testing"):
        assert skill in fields.skills
    stated = parse_resume("Backend developer with 7 years of experience in Java.")
    assert stated.years_experience == 7 and stated.skills == ["Java"]
    assert parse_resume("Python hobbyist").years_experience is None


def test_pdf_docx_and_text_give_the_same_fields() -> None:
    results = [
        extract_resume(make_pdf(RESUME), today=TODAY),
        extract_resume(make_docx(RESUME), today=TODAY),
        extract_resume(RESUME.encode(), today=TODAY),
    ]
    assert [r.kind for r in results] == ["pdf", "docx", "text"]
    assert results[0].pages == 1 and results[2].pages is None
    for r in results:
        assert r.years_experience == pytest.approx(6.8, abs=0.05)
        assert "scikit-learn" in r.skills and "Kubernetes" in r.skills
        assert r.knowledge_set["deep_learning"] == ["PyTorch"]
        assert len(r.text_sha256) == 64
    assert extract_resume(RESUME.encode("utf-16")).kind == "text"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"   \n", "empty_file"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "unsupported_type"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "unsupported_type"),
        (b"\x00\x01\x02binary" * 20, "unsupported_type"),
        (b"%PDF-1.4 garbage that is no PDF at all", "corrupt_file"),
        (b"a" * (MAX_RESUME_BYTES + 1), "too_large"),
    ],
)
def test_bad_files_are_refused(data: bytes, code: str) -> None:
    with pytest.raises(ResumeError) as caught:
        extract_resume(data)
    assert caught.value.code == code and caught.value.details


def test_scanned_and_encrypted_pdfs_are_refused() -> None:
    with pytest.raises(ResumeError) as scanned:
        extract_resume(make_pdf(""))
    assert scanned.value.code == "no_text_layer" and "text layer" in scanned.value.details
    with pytest.raises(ResumeError) as locked:
        extract_resume(make_pdf(RESUME, password="secret"))
    assert locked.value.code == "encrypted_pdf"
    assert sniff_resume(make_pdf(RESUME)) == "pdf"
