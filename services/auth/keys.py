"""Access-token signing keys, the JWKS document and JWT issuing.

Keys are PEM files (PKCS#8): Ed25519 (``alg: EdDSA``, RFC 8037) or RSA of at least
2048 bits (``alg: RS256``, RFC 7518). Each key's ``kid`` is its RFC 7638 JWK
thumbprint, so the same file always gets the same id. Rotation: add a new file to the
keys folder (it becomes active as the newest, or name it with ``EARSHOT_AUTH_ACTIVE_KID``),
keep the old one until the last token it signed has expired (the access-token
lifetime), then remove it. Every loaded key is published in the JWKS.

JWTs are made with PyJWT (``jwt.encode``); claims follow RFC 7519 / RFC 9068:
``iss``, ``aud``, ``sub`` (user id), ``email``, ``name``, ``iat``, ``nbf``, ``exp``,
``jti`` (unique id) and ``sid`` (session id, for revocation).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

__all__ = ["KeyRing", "SigningKey", "jwk_thumbprint", "load_keyring"]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of a public JWK (OKP or RSA).

    Raises:
        ValueError: for another key type.
    """
    members = {"OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}.get(str(jwk.get("kty")))
    if members is None:
        raise ValueError(f"unsupported key type {jwk.get('kty')!r}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    """One private key with its public JWK.

    Attributes:
        kid: RFC 7638 thumbprint.
        alg: ``EdDSA`` (Ed25519) or ``RS256``.
        private_key: the ``cryptography`` private key object.
        public_jwk: the public JWK with ``kid``, ``alg`` and ``use: sig``.
    """

    kid: str
    alg: str
    private_key: Any
    public_jwk: dict[str, Any]

    @classmethod
    def from_pem(cls, pem: bytes, source: str = "key") -> SigningKey:
        """Load a PKCS#8 / traditional PEM private key.

        Raises:
            ValueError: not a PEM private key, an unsupported type, or RSA under 2048 bits.
        """
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{source}: not an unencrypted PEM private key ({exc})") from None
        if isinstance(key, ed25519.Ed25519PrivateKey):
            alg = "EdDSA"
            jwk = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
        elif isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < 2048:
                raise ValueError(f"{source}: RSA keys need at least 2048 bits, got {key.key_size}")
            alg = "RS256"
            jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        else:
            raise ValueError(f"{source}: only Ed25519 and RSA keys are supported")
        kid = jwk_thumbprint(jwk)
        return cls(
            kid=kid, alg=alg, private_key=key, public_jwk={**jwk, "kid": kid, "alg": alg, "use": "sig"}
        )


class KeyRing:
    """The loaded keys: the active one signs, all are published.

    Args:
        keys: at least one key; order = age (last is newest).
        active_kid: the key that signs; default the newest.

    Raises:
        ValueError: no keys, or ``active_kid`` not among them.
    """

    def __init__(self, keys: list[SigningKey], active_kid: str | None = None) -> None:
        if not keys:
            raise ValueError("no signing keys")
        self.keys = {k.kid: k for k in keys}
        if active_kid is not None and active_kid not in self.keys:
            raise ValueError(f"EARSHOT_AUTH_ACTIVE_KID {active_kid!r} is not among the loaded keys")
        self.active = self.keys[active_kid] if active_kid else keys[-1]

    def jwks(self) -> dict[str, Any]:
        """The JWKS document (RFC 7517): ``{"keys": [public JWK, ...]}``, active key first."""
        ordered = [self.active, *(k for k in self.keys.values() if k.kid != self.active.kid)]
        return {"keys": [dict(k.public_jwk) for k in ordered]}

    def issue(
        self,
        *,
        issuer: str,
        audience: str,
        user_id: str,
        email: str,
        name: str,
        session_id: str,
        ttl_s: int,
        now: float | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Sign an access token with the active key.

        Returns:
            ``(jwt, claims)``; the header carries ``kid`` and ``typ: at+jwt``.
        """
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": user_id,
            "email": email,
            "name": name,
            "sid": session_id,
            "iat": issued,
            "nbf": issued,
            "exp": issued + int(ttl_s),
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(
            claims,
            self.active.private_key,
            algorithm=self.active.alg,
            headers={"kid": self.active.kid, "typ": "at+jwt"},
        )
        return token, claims


def load_keyring(
    files: list[Path], keys_dir: Path, active_kid: str | None = None, pems: tuple[str, ...] = ()
) -> KeyRing:
    """Load keys given as PEM text (``pems``, e.g. from ``EARSHOT_AUTH_PRIVATE_KEY``), the
    configured key files, then every ``*.pem`` in ``keys_dir`` (sorted by name).

    When neither yields a key, a new Ed25519 key is generated into
    ``keys_dir/<unix-nanoseconds>.pem`` (mode 0600), so names sort by age.

    Raises:
        ValueError: a file is not a usable key (see :meth:`SigningKey.from_pem`).
        OSError: a file cannot be read.
    """
    keys = [SigningKey.from_pem(pem.encode(), "EARSHOT_AUTH_PRIVATE_KEY") for pem in pems if pem.strip()]
    keys += [SigningKey.from_pem(Path(f).read_bytes(), str(f)) for f in files]
    if keys_dir.is_dir():
        keys += [SigningKey.from_pem(p.read_bytes(), str(p)) for p in sorted(keys_dir.glob("*.pem"))]
    if not keys:
        keys_dir.mkdir(parents=True, exist_ok=True)
        path = keys_dir / f"{time.time_ns()}.pem"
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
        keys.append(SigningKey.from_pem(pem, str(path)))
    unique = list({k.kid: k for k in keys}.values())
    return KeyRing(unique, active_kid)
