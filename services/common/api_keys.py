"""API keys for the stateless routes (``EARSHOT_API_KEYS``), held and compared as hashes.

Keys are long random secrets chosen by the operator, so one SHA-256 of each (no salt, no
slow hash: there is nothing to guess from a 128-bit random key) is what the gateway keeps;
the plain keys never leave settings parsing. An entry may also be given already hashed as
``sha256:<64 hex digits>`` so the plain key need not appear in the environment at all.

A presented key is hashed and compared with *every* stored digest with
:func:`hmac.compare_digest` (constant time for equal lengths, no early exit on the first
match), so response time tells nothing about how much of a key was right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

MIN_KEY_LENGTH = 16
"""Shortest plain API key accepted in ``EARSHOT_API_KEYS`` (characters)."""

_HASHED = re.compile(r"^sha256:([0-9a-f]{64})$")


def hash_key(key: str) -> str:
    """SHA-256 of an API key (UTF-8), lower-case hex (64 characters)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_api_keys(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``EARSHOT_API_KEYS`` -> the SHA-256 digests to keep (order kept, duplicates dropped).

    Args:
        value: comma-separated keys (or an iterable of keys); an entry ``sha256:<hex>`` is
            a digest already; blanks are ignored; ``None`` or empty means no keys.

    Returns:
        Hex digests; empty when no key is configured (the stateless routes stay open).

    Raises:
        ValueError: a plain key shorter than :data:`MIN_KEY_LENGTH` or with white space
            inside, or a malformed ``sha256:`` entry (the message never repeats the key).
    """
    if value is None:
        return ()
    entries = value.split(",") if isinstance(value, str) else list(value)
    digests: list[str] = []
    for position, raw in enumerate(entries, start=1):
        entry = str(raw).strip()
        if not entry:
            continue
        if entry.lower().startswith("sha256:"):
            match = _HASHED.match(entry.lower())
            if match is None:
                raise ValueError(f"entry {position}: 'sha256:' must be followed by 64 hex digits")
            digest = match.group(1)
        else:
            if len(entry) < MIN_KEY_LENGTH:
                raise ValueError(f"entry {position}: an API key needs at least {MIN_KEY_LENGTH} characters")
            if any(c.isspace() for c in entry):
                raise ValueError(f"entry {position}: an API key cannot contain white space")
            digest = hash_key(entry)
        if digest not in digests:
            digests.append(digest)
    return tuple(digests)


def matching_key(presented: str, digests: Iterable[str]) -> str | None:
    """The stored digest ``presented`` hashes to, or ``None``; every digest is compared.

    Args:
        presented: the key as the client sent it.
        digests: stored SHA-256 hex digests (:func:`parse_api_keys`).

    Returns:
        The matching digest (callers log only its first 8 characters), else ``None``.
    """
    candidate = hash_key(presented).encode("ascii")
    found: str | None = None
    for digest in digests:
        if hmac.compare_digest(candidate, digest.encode("ascii")) and found is None:
            found = digest
    return found
