"""``mor user`` and ``mor client``: accounts and registered apps, from the command line,
so a new city can create its first administrator and connect its first integrations."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.cli_support import console, settings_or_exit

T = TypeVar("T")
user_app = typer.Typer(help="Manage the accounts of staff and patients.", no_args_is_help=True)
client_app = typer.Typer(help="Register SMART apps and backend services.",
                         no_args_is_help=True)


def _run_or_exit(work: Callable[[AsyncEngine], Awaitable[T]],
                 refused: type[Exception]) -> T:
    """Run the work; a refusal (a bad name, a missing account) is printed, exit status 1."""
    try:
        return _run(work)
    except refused as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None


def _run(work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    from mor.db.engine import create_engine
    from mor.db.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url)

    async def run() -> T:
        engine = create_engine(settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="What the person signs in with.")],
    role: Annotated[str, typer.Option(help="doctor, nurse, pharmacist, centre-admin, "
                                           "city-admin or patient.")],
    fhir_user: Annotated[str | None, typer.Option(
        help="The Practitioner/[id] (staff) or Patient/[id] the account is.")] = None,
    organization: Annotated[list[str] | None, typer.Option(
        help="Staff: id of an Organization (health centre) the person works at; mor "
             "records a PractitionerRole there. Repeat for several.")] = None,
    name: Annotated[str | None, typer.Option(
        help="Staff with --organization but no --fhir-user: the name of the Practitioner "
             "mor creates for them.")] = None,
    verified: Annotated[bool, typer.Option(
        help="For a patient: their identity was checked in person.")] = False,
    password: Annotated[str, typer.Option(
        prompt=True, hide_input=True, confirmation_prompt=True,
        help="Asked for when not given; avoid giving it on the command line, where the "
             "shell history keeps it.")] = "",
) -> None:
    """Create an account."""
    from mor.auth.accounts import AccountError
    from mor.auth.roles import parse_role
    from mor.fhir.store import Store
    from mor.services.staff import add_account

    try:
        parsed_role = parse_role(role)
        created = _run(lambda engine: add_account(
            Store(engine), username, password, parsed_role, name=name, fhir_user=fhir_user,
            organizations=tuple(organization or ()), verified=verified))
    except (AccountError, ValueError) as error:
        console.print(f"[red]Not created:[/red] {error}")
        raise typer.Exit(1) from None
    where = f" at {', '.join(organization)}" if organization else ""
    console.print(f"Created {created.role.value} account [bold]{created.username}[/bold] "
                  f"({created.fhir_user or 'not linked to a FHIR resource'}){where}.")


@user_app.command("list")
def user_list() -> None:
    """List the accounts."""
    from mor.auth.accounts import Account, Accounts
    from mor.auth.workplaces import with_workplaces
    from mor.fhir.store import Store

    async def with_centres(engine: AsyncEngine) -> list[Account]:
        store = Store(engine)
        return [await with_workplaces(store, found) for found in await Accounts(engine).all()]

    accounts = _run(with_centres)
    table = Table(title="Accounts")
    for column in ("username", "role", "FHIR resource", "health centres", "state"):
        table.add_column(column)
    for account in accounts:
        state = "disabled" if account.disabled else (
            "verified" if account.verified or account.role.value != "patient" else "unverified")
        table.add_row(account.username, account.role.value, account.fhir_user or "",
                      ", ".join(account.organizations), state)
    console.print(table)


@user_app.command("verify")
def user_verify(username: Annotated[str, typer.Argument()]) -> None:
    """Record that a patient's identity document was checked: from now on their account
    sees their health record."""
    from mor.auth.accounts import AccountError, Accounts

    account = _run_or_exit(lambda engine: Accounts(engine).set_verified(username),
                           AccountError)
    console.print(f"Verified {account.username} ({account.fhir_user}).")


@user_app.command("reset-second-factor")
def user_reset_second_factor(username: Annotated[str, typer.Argument()]) -> None:
    """Forget a staff member's authenticator app (a lost phone): they enrol a new one at
    their next sign-in. Check who is asking before you do this."""
    from mor.auth.accounts import AccountError, Accounts

    _run_or_exit(lambda engine: Accounts(engine).reset_second_factor(username), AccountError)
    console.print(f"{username} enrols a new authenticator app at the next sign-in.")


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account: it can no longer sign in, and its tokens stop working at once."""
    from mor.auth.accounts import AccountError, Accounts

    _run_or_exit(lambda engine: Accounts(engine).set_disabled(username, True), AccountError)
    console.print(f"Disabled {username}.")


@client_app.command("add")
def client_add(
    name: Annotated[str, typer.Argument(help="The app's name, shown to administrators.")],
    scope: Annotated[str, typer.Option(
        help="The SMART scopes it may ask for, e.g. 'system/*.rs' for a backend service "
             "or 'launch/patient patient/*.rs' for an app.")],
    jwks: Annotated[Path | None, typer.Option(
        help="A backend service: the file of its public JSON Web Key Set; it will "
             "authenticate with private_key_jwt.")] = None,
    redirect_uri: Annotated[list[str] | None, typer.Option(
        help="An app for people: where to send the user back after sign-in; repeat for "
             "several.")] = None,
    confidential: Annotated[bool, typer.Option(
        help="An app for people that can keep a secret (runs on a server).")] = False,
    generate_key: Annotated[Path | None, typer.Option(
        help="A backend service whose key mor makes: the private key and the client_id go "
             "to this file (readable by you alone), for 'mor client token'.")] = None,
    partner_city: Annotated[str | None, typer.Option(
        help="A partner city's instance: the id of that city's Organization in this "
             "city's directory. It reads only the records of patients who consented to "
             "share with that city, and writes nothing.")] = None,
) -> None:
    """Register a SMART app or backend service and print what it needs to get tokens."""
    from mor.auth.clients import ClientError, Clients, Registered
    from mor.fhir.errors import Gone, NotFound
    from mor.fhir.store import Store
    from mor.fhir.visibility import EVERYTHING

    key_set: dict[str, Any] | None = None
    private_key: dict[str, Any] | None = None
    if generate_key is not None:
        from joserfc.jwk import ECKey

        if jwks is not None or generate_key.exists():
            console.print("[red]Give --generate-key a new file, and no --jwks[/red]")
            raise typer.Exit(1)
        key = ECKey.generate_key("P-384")
        key_set = {"keys": [key.as_dict(private=False)]}
        private_key = key.as_dict(private=True)
    if jwks is not None:
        try:
            key_set = json.loads(jwks.read_text())
        except (OSError, ValueError) as error:
            console.print(f"[red]Cannot read the JWK set {jwks}:[/red] {error}")
            raise typer.Exit(1) from None
    async def register(engine: AsyncEngine) -> Registered:
        if partner_city is not None:
            try:
                async with Store(engine).reading(EVERYTHING) as tx:
                    await tx.read("Organization", partner_city)
            except (NotFound, Gone):
                raise ClientError(f"There is no Organization/{partner_city} for the partner "
                                  "city; add it to the directory first") from None
        return await Clients(engine).add(
            name, scope=scope, redirect_uris=tuple(redirect_uri or ()), jwks=key_set,
            confidential=confidential, partner_organization=partner_city)

    try:
        registered = _run(register)
    except ClientError as error:
        console.print(f"[red]Not registered:[/red] {error}")
        raise typer.Exit(1) from None
    client = registered.client
    base = settings_or_exit().base_url or "http://127.0.0.1:8000"
    if generate_key is not None and private_key is not None:
        generate_key.touch(mode=0o600)
        generate_key.write_text(json.dumps({
            "client_id": client.client_id, "token_endpoint": f"{base}/auth/token",
            "key": private_key}, indent=2))
        console.print(f"Private key written to {generate_key}; keep it secret.")
    console.print(f"Registered [bold]{client.name}[/bold].")
    console.print(f"client_id:           {client.client_id}")
    console.print(f"scopes it may ask:   {client.scope}")
    console.print(f"SMART configuration: {base}/fhir/.well-known/smart-configuration")
    console.print(f"token endpoint:      {base}/auth/token")
    if client.is_backend:
        console.print(
            "It gets a token with grant_type=client_credentials, authenticating by a JWT "
            "signed with its private key (RS384 or ES384): iss and sub = the client_id, "
            "aud = the token endpoint, a unique jti, exp within 5 minutes "
            "(SMART Backend Services).")
    if registered.secret:
        console.print(f"client_secret:       {registered.secret}")
        console.print("[yellow]Shown this once; mor keeps only its hash.[/yellow]")


@client_app.command("list")
def client_list() -> None:
    """List the registered apps."""
    from mor.auth.clients import Clients

    clients = _run(lambda engine: Clients(engine).all())
    table = Table(title="Registered apps")
    for column in ("name", "client_id", "authentication", "scopes", "state"):
        table.add_column(column)
    for client in clients:
        partner = client.partner_organization
        name = client.name + (f"\npartner city: {partner}" if partner else "")
        table.add_row(name, client.client_id, client.auth_method, client.scope,
                      "disabled" if client.disabled else "active")
    console.print(table)


@client_app.command("disable")
def client_disable(client_id: Annotated[str, typer.Argument()]) -> None:
    """Withdraw an app: its tokens stop working at once."""
    from mor.auth.clients import ClientError, Clients

    _run_or_exit(lambda engine: Clients(engine).set_disabled(client_id, True), ClientError)
    console.print(f"Disabled {client_id}.")


@client_app.command("token")
def client_token(
    key: Annotated[Path, typer.Option(help="The file 'mor client add --generate-key' wrote.")],
    scope: Annotated[str | None, typer.Option(
        help="Scopes to ask for (default: all the service may have).")] = None,
) -> None:
    """Get an access token for a backend service, the standard way (SMART Backend
    Services: a JWT signed with its key, at the token endpoint), and print it."""
    import time
    import uuid

    import httpx
    from joserfc import jwt
    from joserfc.jwk import ECKey

    try:
        saved = json.loads(key.read_text())
        private = ECKey.import_key(saved["key"])
        client_id, token_url = str(saved["client_id"]), str(saved["token_endpoint"])
    except (OSError, ValueError, KeyError) as error:
        console.print(f"[red]Cannot read the key file {key}:[/red] {error}")
        raise typer.Exit(1) from None
    now = int(time.time())
    assertion = jwt.encode({"alg": "ES384", "typ": "JWT"},
                           {"iss": client_id, "sub": client_id, "aud": token_url,
                            "jti": uuid.uuid4().hex, "iat": now, "exp": now + 240},
                           private, algorithms=["ES384"])
    form = {"grant_type": "client_credentials", "client_assertion": assertion,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    if scope:
        form["scope"] = scope
    try:
        response = httpx.post(token_url, data=form, timeout=30)
    except httpx.HTTPError as error:
        console.print(f"[red]Cannot reach {token_url}:[/red] {error}; is mor running?")
        raise typer.Exit(1) from None
    answer = response.json()
    if response.status_code != 200:
        console.print(f"[red]No token:[/red] {answer.get('error')}: "
                      f"{answer.get('error_description', '')}")
        raise typer.Exit(1)
    print(answer["access_token"])
