"""A browser stand-in for page tests: keeps cookies, reads forms' hidden fields."""

from __future__ import annotations

import html
import re

import httpx
import pyotp
from starlette.applications import Starlette

BASE = "https://mor.test"


def browser(app: Starlette, language: str = "en") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE,
                             headers={"Accept-Language": language})


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match is not None, f"no hidden field {name}"
    return html.unescape(match.group(1))  # as a browser reads the attribute


async def sign_in(http: httpx.AsyncClient, username: str, password: str,
                  next_url: str = "") -> httpx.Response:
    page = await http.get("/auth/login", params={"next": next_url} if next_url else None)
    return await http.post("/auth/login", data={
        "username": username, "password": password, "csrf_token": hidden(page.text,
                                                                         "csrf_token"),
        "next": hidden(page.text, "next")})


async def sign_in_staff(http: httpx.AsyncClient, username: str, password: str,
                        next_url: str) -> httpx.Response:
    """Staff sign in with a password, then the authenticator app, enrolled on the way;
    the answer sends them on to ``next_url``."""
    answer = await sign_in(http, username, password, next_url)
    page = (await http.get(answer.headers["location"])).text
    secret = hidden(page, "secret")
    return await http.post("/auth/totp", data={
        "csrf_token": hidden(page, "csrf_token"), "secret": secret,
        "code": pyotp.TOTP(secret).now(), "next": hidden(page, "next")})
