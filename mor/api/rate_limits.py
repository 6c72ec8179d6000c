"""Request rate limits per client: a token bucket for each access token (or, without
one, each network address), refilled at ``per_minute / 60`` a second and holding up to
ten seconds' worth, so short bursts pass and a flood gets ``429 Too Many Requests``.

Sign-in forms have their own, tighter bucket per address: the account lockout stops
guessing one account's password, this slows guessing many. Staff forms share it: the
identity check would otherwise let a stolen staff session try document numbers fast.

Buckets live in each server process; with several workers behind a proxy, the proxy's
own limits are the ones that hold across them.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from typing import Final

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

SIGN_IN_PER_MINUTE: Final = 20
_MAX_BUCKETS: Final = 100_000


class _Buckets:
    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * 10)
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """0 if a request may pass now, else the seconds until one may."""
        now = time.monotonic()
        tokens, since = self.buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - since) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self.buckets[key] = (tokens, now)
        if len(self.buckets) > _MAX_BUCKETS:
            self.buckets.popitem(last=False)
        return wait


class RateLimits:
    def __init__(self, app: ASGIApp, *, per_minute: int) -> None:
        self.app = app
        self.api = _Buckets(per_minute) if per_minute > 0 else None
        self.sign_in = _Buckets(SIGN_IN_PER_MINUTE) if per_minute > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.api is None or self.sign_in is None:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        address = (scope.get("client") or ("unknown", 0))[0]
        if path.startswith(("/auth/login", "/auth/totp", "/staff/")) and (
                scope["method"] == "POST"):
            wait = self.sign_in.take(address)
        else:
            wait = self.api.take(_client_key(scope, address))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        await _too_many(send, math.ceil(wait), fhir=path.startswith("/fhir"))


def _client_key(scope: Scope, address: str) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return "token:" + hashlib.sha256(value).hexdigest()
    return "address:" + address


async def _too_many(send: Send, seconds: int, *, fhir: bool) -> None:
    message = (f"Too many requests from this client; wait {seconds} s and try again, or "
               "spread the requests out")
    if fhir:
        body = orjson.dumps({"resourceType": "OperationOutcome", "issue": [{
            "severity": "error", "code": "throttled", "diagnostics": message}]})
        content_type = b"application/fhir+json; charset=utf-8"
    else:
        body = message.encode()
        content_type = b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": 429, "headers": [
        (b"content-type", content_type), (b"retry-after", str(seconds).encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
