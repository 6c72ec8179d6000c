"""Tokens for people in tests: an account, an app it uses, and a token issued to the
pair directly (the sign-in and consent pages have tests of their own)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from mor.auth.accounts import Account, Accounts
from mor.auth.clients import Clients
from mor.auth.roles import Role
from mor.auth.tokens import Tokens

PASSWORD = "a long enough password"


async def person_token(engine: AsyncEngine, username: str, role: Role, fhir_user: str,
                       organizations: tuple[str, ...] = (), *, verified: bool = True,
                       scope: str = "user/*.cruds", patient: str | None = None) -> str:
    person = await Accounts(engine).add(username, PASSWORD, role, fhir_user=fhir_user,
                                        organizations=organizations, verified=verified)
    return await account_token(engine, person, scope=scope, patient=patient)


async def account_token(engine: AsyncEngine, person: Account, *, scope: str = "user/*.cruds",
                        patient: str | None = None) -> str:
    """A token for an account that exists already (one made by registering, say)."""
    app = await Clients(engine).add(f"app of {person.username}",
                                    scope="user/*.cruds patient/*.cruds",
                                    redirect_uris=("https://app.example/callback",))
    answer = await Tokens(engine).issue(client_id=app.client.client_id, account_id=person.id,
                                        scope=scope, patient=patient)
    return str(answer["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
