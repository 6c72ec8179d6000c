"""Password and secret hashing with Argon2id (RFC 9106), via argon2-cffi."""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mor.messages import N_

# argon2-cffi's defaults are RFC 9106's second recommended option (Argon2id, 64 MiB).
_HASHER: Final = PasswordHasher()
MIN_PASSWORD_LENGTH: Final = 10
# Checked when the account does not exist, so a wrong name costs as much time as a
# wrong password and response times do not tell which accounts exist.
_DUMMY_HASH: Final = _HASHER.hash("mor: no such account")


def hash_secret(secret: str) -> str:
    return _HASHER.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(_TOO_SHORT)


# A fixed string, to be translated: keep the number in step with MIN_PASSWORD_LENGTH.
_TOO_SHORT: Final = N_("A password needs at least 10 characters")
