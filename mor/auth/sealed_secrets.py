"""Small secrets kept in the database sealed (AES-256-GCM) with a key kept outside it, so
a copy of the database alone (a backup, a dump, a stolen disk image) does not give them
away."""

from __future__ import annotations

import contextlib
import os
from base64 import urlsafe_b64decode, urlsafe_b64encode
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The version in front lets a later format (another cipher, a rotated key) be told apart
# from this one, and both from the plain values stored before sealing began.
PREFIX: Final = "v1:"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12


class SecretKeyError(RuntimeError):
    """The key file is there but cannot be the key."""


class NotUnsealed(ValueError):
    """A sealed value that this key, for this owner, does not open."""


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``; a new random one, readable by mor's user only, if there is
    none yet."""
    if not path.exists():
        _create_key(path)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise SecretKeyError(
            f"The key file {path} holds {len(key)} bytes, not the {KEY_BYTES} random bytes "
            "of a key. Restore it from the backup taken with the database (MOR_SECRET_KEY_FILE "
            "says where mor looks). If the key is lost, move the file away so that mor makes "
            "a new one, and clear account.totp_secret so that staff enrol their "
            "authenticator app again (docs/operators.md).")
    return key


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written under a name of its own, then linked into place: another worker starting at
    # the same moment, or a crash halfway, never leaves a short key file, and the first
    # key linked wins (a second one would not open what the first sealed).
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        draft.unlink()  # left by a crashed process that had this pid
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(os.urandom(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()


class SealedSecrets:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SecretKeyError(f"a key is {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, secret: str, owner: str) -> str:
        """``secret`` sealed for ``owner`` (associated data): copied to another owner's
        row, it does not open."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), owner.encode())
        return PREFIX + urlsafe_b64encode(nonce + sealed).decode("ascii")

    def unseal(self, value: str, owner: str) -> str:
        if not is_sealed(value):
            raise NotUnsealed("not a sealed value")
        try:
            raw = urlsafe_b64decode(value[len(PREFIX):])
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                      owner.encode()).decode()
        except (InvalidTag, ValueError):  # ValueError: bad base64, nonce or UTF-8
            raise NotUnsealed(
                f"the secret of {owner} does not open with this key: it was sealed with "
                "another key file, or for another owner") from None
