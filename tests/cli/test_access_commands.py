"""mor user and mor client: a new city creates its first administrator and registers
its first integration from the command line."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from joserfc.jwk import RSAKey
from sqlalchemy import update
from typer.testing import CliRunner

from mor.auth.accounts import Accounts
from mor.cli import app
from mor.config import Settings
from mor.db.engine import create_engine
from mor.db.schema import account

runner = CliRunner()


def _env(tmp_path: Path) -> dict[str, str]:
    return {"MOR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "MOR_BASE_URL": "https://mor.bangkok.example"}


def _sign_in(tmp_path: Path, username: str, password: str) -> str:
    async def run() -> str:
        engine = create_engine(Settings(database_url=_env(tmp_path)["MOR_DATABASE_URL"]))
        try:
            return (await Accounts(engine).sign_in(username, password)).role.value
        finally:
            await engine.dispose()
    return asyncio.run(run())


def _has_second_factor(tmp_path: Path, username: str, enrol: bool = False) -> bool:
    async def run() -> bool:
        engine = create_engine(Settings(database_url=_env(tmp_path)["MOR_DATABASE_URL"]))
        try:
            if enrol:
                async with engine.begin() as conn:
                    await conn.execute(update(account).where(account.c.username == username)
                                       .values(totp_secret="v1:sealed"))
            found = await Accounts(engine).find(username)
            return found is not None and found.has_totp
        finally:
            await engine.dispose()
    return asyncio.run(run())


def test_the_first_city_admin_is_created_listed_and_disabled(tmp_path: Path) -> None:
    env = _env(tmp_path)
    result = runner.invoke(app, ["user", "add", "Somchai", "--role", "city-admin"],
                           input="correct horse battery\ncorrect horse battery\n", env=env)
    assert result.exit_code == 0, result.output
    assert "correct horse" not in result.output
    assert _sign_in(tmp_path, "somchai", "correct horse battery") == "city-admin"
    centre = tmp_path / "centre.json"
    centre.write_text(json.dumps({"resourceType": "Organization", "id": "hc-dusit",
                                  "name": "Dusit health centre"}))
    assert runner.invoke(app, ["import", str(centre)], env=env).exit_code == 0
    result = runner.invoke(app, ["user", "add", "dr.malee", "--role", "doctor",
                                 "--name", "Malee Srisuk",
                                 "--organization", "hc-dusit", "--password", "a long secret!"],
                           env=env)
    assert result.exit_code == 0, result.output
    assert "Practitioner/" in result.output and "hc-dusit" in result.output
    listed = runner.invoke(app, ["user", "list"], env=env)
    assert "somchai" in listed.output and "dr.malee" in listed.output
    assert "hc-dusit" in listed.output
    assert _has_second_factor(tmp_path, "dr.malee", enrol=True)
    reset = runner.invoke(app, ["user", "reset-second-factor", "dr.malee"], env=env)
    assert reset.exit_code == 0 and "new authenticator" in reset.output
    assert not _has_second_factor(tmp_path, "dr.malee")
    assert runner.invoke(app, ["user", "reset-second-factor", "nobody"], env=env).exit_code == 1
    assert runner.invoke(app, ["user", "disable", "dr.malee"], env=env).exit_code == 0
    assert "disabled" in runner.invoke(app, ["user", "list"], env=env).output


def test_bad_accounts_are_refused_with_the_reason(tmp_path: Path) -> None:
    env = _env(tmp_path)
    cases = [
        (["--role", "surgeon"], "not a role"),
        (["--role", "doctor", "--fhir-user", "Patient/x"], "linked to a Practitioner"),
        (["--role", "nurse", "--password", "short"], "at least 10 characters"),
        (["--role", "nurse", "--organization", "hc-nowhere"],
         "no health centre Organization/hc-nowhere"),
    ]
    for options, reason in cases:
        arguments = ["user", "add", "someone", *options]
        if "--password" not in options:
            arguments += ["--password", "long enough secret"]
        result = runner.invoke(app, arguments, env=env)
        assert result.exit_code == 1, result.output
        assert reason in result.output
    runner.invoke(app, ["user", "add", "twice", "--role", "nurse", "--password", "x" * 12],
                  env=env)
    result = runner.invoke(app, ["user", "add", "TWICE", "--role", "nurse",
                                 "--password", "x" * 12], env=env)
    assert result.exit_code == 1 and "already an account" in result.output


def test_a_backend_service_is_registered_with_its_public_keys(tmp_path: Path) -> None:
    env = _env(tmp_path)
    key = RSAKey.generate_key(2048)
    jwks = tmp_path / "lab.jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    result = runner.invoke(app, ["client", "add", "City laboratory", "--scope",
                                 "system/Observation.cruds", "--jwks", str(jwks)], env=env)
    assert result.exit_code == 0, result.output
    assert "https://mor.bangkok.example/auth/token" in result.output
    assert "client_credentials" in result.output
    assert "City laboratory" in runner.invoke(app, ["client", "list"], env=env).output
    # A private key in the set would be a secret handed to the server: refused.
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    result = runner.invoke(app, ["client", "add", "Leaky", "--scope", "system/*.rs",
                                 "--jwks", str(jwks)], env=env)
    assert result.exit_code == 1 and "private key" in result.output


def test_an_app_for_people_gets_its_secret_shown_once(tmp_path: Path) -> None:
    env = _env(tmp_path)
    result = runner.invoke(app, ["client", "add", "Clinic dashboard", "--scope",
                                 "user/*.rs", "--redirect-uri",
                                 "https://dashboard.example/callback", "--confidential"],
                           env=env)
    assert result.exit_code == 0, result.output
    assert "client_secret:" in result.output
    result = runner.invoke(app, ["client", "add", "Insecure", "--scope", "patient/*.rs",
                                 "--redirect-uri", "http://example.com/cb"], env=env)
    assert result.exit_code == 1 and "https" in result.output


def test_a_partner_city_instance_is_registered_for_a_known_city(tmp_path: Path) -> None:
    env = _env(tmp_path)
    key_file = tmp_path / "vientiane.key.json"
    arguments = ["client", "add", "Vientiane", "--scope", "system/*.rs",
                 "--partner-city", "vientiane", "--generate-key", str(key_file)]
    result = runner.invoke(app, arguments, env=env)
    assert result.exit_code == 1 and "no Organization/vientiane" in result.output
    city = tmp_path / "city.json"
    city.write_text(json.dumps({"resourceType": "Organization", "id": "vientiane",
                                "name": "Vientiane Capital"}))
    assert runner.invoke(app, ["import", str(city)], env=env).exit_code == 0
    result = runner.invoke(app, arguments, env=env)
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["client", "list"], env=env, terminal_width=200)
    assert "vientiane" in listed.output


def test_a_generated_key_gets_a_token_from_the_running_server(
    tmp_path: Path, live_server: str, settings: Settings,
) -> None:
    server = live_server.removesuffix("/fhir")
    env = {"MOR_DATABASE_URL": settings.database_url, "MOR_BASE_URL": server}
    key_file = tmp_path / "script.key.json"
    result = runner.invoke(app, ["client", "add", "my script", "--scope", "system/*.rs",
                                 "--generate-key", str(key_file)], env=env)
    assert result.exit_code == 0, result.output
    assert key_file.stat().st_mode & 0o077 == 0
    result = runner.invoke(app, ["client", "token", "--key", str(key_file)], env=env)
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    response = httpx.get(f"{live_server}/Patient", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    result = runner.invoke(app, ["client", "token", "--key", str(key_file),
                                 "--scope", "system/Patient.c"], env=env)
    assert result.exit_code == 1 and "invalid_scope" in result.output


def test_a_checked_identity_is_recorded(tmp_path: Path) -> None:
    env = _env(tmp_path)
    runner.invoke(app, ["user", "add", "0812345678", "--role", "patient", "--fhir-user",
                        "Patient/p1", "--password", "long enough secret"], env=env)
    assert "unverified" in runner.invoke(app, ["user", "list"], env=env).output
    result = runner.invoke(app, ["user", "verify", "0812345678"], env=env)
    assert result.exit_code == 0, result.output
    assert "unverified" not in runner.invoke(app, ["user", "list"], env=env).output
    assert runner.invoke(app, ["user", "verify", "nobody"], env=env).exit_code == 1
