"""Password policy, normalised emails and argon2id hashing (argon2-cffi).

Hashes are PHC strings (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``) made by
``argon2.PasswordHasher`` (RFC 9106 argon2id). A hash made with other parameters
than the configured ones is re-made at the next successful login
(``check_needs_rehash``). Verification of an unknown account still runs one
argon2 verification against a fixed dummy hash, so the answer takes as long as for
a known account (no user enumeration by timing).
"""

from __future__ import annotations

import re
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["PasswordPolicy", "PasswordService", "WeakInput", "normalize_email"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "qwerty123",
        "11111111",
        "00000000",
        "iloveyou",
        "abc12345",
        "letmein1",
        "welcome1",
        "admin123",
        "passw0rd",
        "sunshine",
        "football",
        "baseball",
        "trustno1",
        "changeme",
    }
)
"""Refused outright, whatever the length rules say (a short list of the most used ones)."""


class WeakInput(ValueError):
    """Input that fails validation; the message says what to change (HTTP 422)."""


def normalize_email(email: str) -> str:
    """Trim, NFKC-normalise and lower-case an email address.

    Raises:
        WeakInput: not shaped like ``local@domain.tld`` or longer than 254 characters.
    """
    value = unicodedata.normalize("NFKC", email or "").strip().lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise WeakInput("email must be a valid address like name@example.com")
    return value


class PasswordPolicy:
    """Minimum/maximum length, not a common password, not the email itself.

    Args:
        min_length: fewest characters (NIST SP 800-63B suggests at least 8).
        max_length: most characters (bounds hashing work).
    """

    def __init__(self, min_length: int = 8, max_length: int = 256) -> None:
        self.min_length = min_length
        self.max_length = max_length

    def check(self, password: str, email: str = "") -> None:
        """Raise :class:`WeakInput` with a clear reason when ``password`` is not acceptable."""
        if len(password) < self.min_length:
            raise WeakInput(f"password must be at least {self.min_length} characters long")
        if len(password) > self.max_length:
            raise WeakInput(f"password must be at most {self.max_length} characters long")
        if password.lower() in COMMON_PASSWORDS or len(set(password)) < 3:
            raise WeakInput("password is too easy to guess; choose a less common one")
        if email and password.lower() in {email.lower(), email.split("@")[0].lower()}:
            raise WeakInput("password must not be your email address")


class PasswordService:
    """argon2id hashing with a configurable cost.

    Args:
        time_cost: iterations (argon2 ``t``).
        memory_kib: memory in KiB (argon2 ``m``).
        parallelism: lanes (argon2 ``p``).
    """

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        self._dummy = self.hasher.hash("earshot-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        """A new argon2id PHC hash of ``password`` (random salt). CPU-bound: call in a thread."""
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> tuple[bool, bool]:
        """Check ``password`` against ``stored_hash`` (``None``: unknown account or no password).

        Returns:
            ``(ok, needs_rehash)``. With no stored hash a dummy hash is verified so that the
            time taken does not reveal whether the account exists; the answer is ``False``.
        """
        if not stored_hash:
            try:
                self.hasher.verify(self._dummy, password + "\x00")
            except VerificationError:
                pass
            return False, False
        try:
            self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, False
        return True, self.hasher.check_needs_rehash(stored_hash)
