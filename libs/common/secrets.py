"""API keys and carrier credentials.

API keys are 32 random bytes shown once; only their SHA-256 is stored (a slow hash buys nothing
for keys this random). Carrier credentials are encrypted with Fernet under a key derived from
PARLEY_SECRET_KEY, so a database dump alone reveals no carrier token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

import orjson
from cryptography.fernet import Fernet, InvalidToken

KEY_PREFIX = "pk_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class CredentialBox:
    def __init__(self, secret_key: str) -> None:
        derived = hashlib.sha256(b"parley-credentials:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, values: dict[str, str]) -> bytes:
        return self._fernet.encrypt(orjson.dumps(values))

    def open(self, blob: bytes) -> dict[str, str]:
        try:
            return orjson.loads(self._fernet.decrypt(blob))
        except InvalidToken as exc:
            raise ValueError("credentials cannot be decrypted with this PARLEY_SECRET_KEY") from exc
