"""The STUN and TURN servers a browser's RTCPeerConnection is given for a video call.

STUN servers go to the browser as they are. Each TURN server gets credentials made for
one person and a short while, by coturn's ``use-auth-secret`` scheme (the "TURN REST
API"): the username is ``<expiry in Unix seconds>:<user>`` and the password is
base64(HMAC-SHA1(secret, username)). coturn, holding the same secret, checks both
without asking mor, and refuses a username whose expiry has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from mor.config import IceSettings

__all__ = ["IceServer", "IceSettings", "ice_servers"]

# coturn answers 400 to a username holding any of these.
_REFUSED_BY_COTURN = frozenset(" \t\r\n'\"\\")


@dataclass(frozen=True, slots=True)
class IceServer:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The RTCIceServer dictionary, as RTCPeerConnection takes it."""
        server: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            server["username"] = self.username
        if self.credential is not None:
            server["credential"] = self.credential
        return server


def ice_servers(settings: IceSettings, user: str, *, now: float | None = None) -> list[IceServer]:
    """The servers for one person's browser: STUN ones first, then TURN ones with
    credentials for ``user`` that start a relay until ``settings.turn_ttl`` seconds from
    ``now``.

    ``user`` ends up in coturn's log: pass an opaque id (a Practitioner's or Patient's
    resource id), never a name.
    """
    stun = tuple(url for url in settings.urls if url.startswith("stun:"))
    turn = tuple(url for url in settings.urls if not url.startswith("stun:"))
    servers = [IceServer(urls=stun)] if stun else []
    if turn:
        if settings.turn_secret is None:
            raise ValueError("TURN servers are configured without the secret shared with "
                             "coturn; read the settings with Settings.from_env")
        if not user or _REFUSED_BY_COTURN.intersection(user):
            raise ValueError(f"a TURN user must be an id without spaces, quotes or "
                             f"backslashes, not {user!r}")
        expiry = int(time.time() if now is None else now) + settings.turn_ttl
        username = f"{expiry}:{user}"
        servers.append(IceServer(urls=turn, username=username,
                                 credential=_turn_password(settings.turn_secret, username)))
    return servers


def _turn_password(secret: str, username: str) -> str:
    """The password coturn expects, under ``use-auth-secret``, for this username."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")
