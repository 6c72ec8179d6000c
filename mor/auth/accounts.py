"""Accounts: who can sign in, with which role, as which FHIR Practitioner or Patient.

Passwords are kept as Argon2id hashes. Repeated wrong passwords lock an account:
each attempt is counted *before* the password is checked, in one atomic UPDATE, so a
burst of parallel guesses gets no more tries than a slow one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import orjson
from sqlalchemy import ColumnElement, case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from mor.auth.passwords import check_password_strength, hash_secret, verify_secret
from mor.auth.roles import FHIR_USER_TYPES, Role
from mor.db.schema import account
from mor.fhir.timestamps import now_micros

# Wrong passwords in a row before the account locks, and for how long: 15 minutes the
# first time, twice as long each time after (back-off), at most 16 hours.
MAX_FAILED_SIGN_INS: Final = 5
LOCK_MICROS: Final = 15 * 60 * 1_000_000
MAX_LOCK_DOUBLINGS: Final = 6


class AccountError(ValueError):
    """A request about accounts that cannot be done, with the reason for a person."""


class SignInRefused(Exception):
    """Wrong name or password, a disabled account, or one locked after failures.

    The message never says which, so it cannot be used to find accounts."""


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    username: str
    role: Role
    fhir_user: str | None
    organizations: tuple[str, ...]
    verified: bool
    disabled: bool
    has_totp: bool

    @property
    def fhir_user_id(self) -> str | None:
        return self.fhir_user.split("/", 1)[1] if self.fhir_user else None


class Accounts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, username: str, password: str | None, role: Role, *,
                  fhir_user: str | None = None, organizations: tuple[str, ...] = (),
                  verified: bool = False, password_hash: str | None = None) -> Account:
        """A new account; give the password, or its hash when it was checked and hashed
        earlier (a registration waiting for its one-time code)."""
        username = _normalise(username)
        if password_hash is None:
            check_password_strength(password or "")
            password_hash = hash_secret(password or "")
        if fhir_user is not None:
            check_fhir_user(role, fhir_user)
        values = {
            "id": str(uuid.uuid4()), "username": username, "password_hash": password_hash,
            "role": role.value, "fhir_user": fhir_user,
            "organizations": orjson.dumps(list(organizations)).decode() if organizations else None,
            "verified": verified, "disabled": False, "failed_logins": 0, "lockouts": 0,
            "created": now_micros(),
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(account.insert().values(**values))
        except IntegrityError:
            raise AccountError(f"There is already an account named {username!r}") from None
        found = await self.find(username)
        assert found is not None
        return found

    async def find(self, username: str) -> Account | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(*ACCOUNT_COLUMNS).where(
                account.c.username == _normalise(username)))).first()
        return None if row is None else account_from_row(row)

    async def get(self, account_id: str) -> Account | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(*ACCOUNT_COLUMNS).where(
                account.c.id == account_id))).first()
        return None if row is None else account_from_row(row)

    async def all(self) -> list[Account]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(*ACCOUNT_COLUMNS).order_by(account.c.username))).all()
        return [account_from_row(row) for row in rows]

    async def awaiting_verification(self, limit: int) -> list[Account]:
        """Patient accounts whose identity no one has checked yet, newest first: the
        person at a health centre's desk has most likely registered lately."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                select(*ACCOUNT_COLUMNS)
                .where(account.c.role == Role.PATIENT.value, account.c.verified.is_(False),
                       account.c.disabled.is_(False))
                .order_by(account.c.created.desc(), account.c.id).limit(limit))).all()
        return [account_from_row(row) for row in rows]

    async def set_verified(self, username: str) -> Account:
        """A patient's identity was checked (in person, or by staff checking the ID): from
        now on the account sees the patient's record."""
        return await self._change(username, verified=True)

    async def reset_second_factor(self, username: str) -> Account:
        """Forget the account's authenticator (a lost phone, or a lost key file): the
        person enrols a new one at their next sign-in, after their password."""
        return await self._change(username, totp_secret=None)

    async def set_disabled(self, username: str, disabled: bool) -> Account:
        return await self._change(username, disabled=disabled)

    async def _change(self, username: str, **values: object) -> Account:
        async with self.engine.begin() as conn:
            result = await conn.execute(update(account).where(
                account.c.username == _normalise(username)).values(**values))
        if result.rowcount == 0:
            raise AccountError(f"There is no account named {username!r}")
        found = await self.find(username)
        assert found is not None
        return found

    async def sign_in(self, username: str, password: str) -> Account:
        """The account, if the password is right and the account may sign in now."""
        where = account.c.username == _normalise(username)
        taken = await self._take_attempt(where)
        ok = taken is not None and verify_secret(taken[0], password)
        if taken is None:
            verify_secret(None, password)  # the same time as a real check
        await self._settle(where, taken, ok)
        found = await self.find(username)
        assert found is not None
        return found

    async def check_second_factor(self, account_id: str, is_right: Callable[[], bool]
                                  ) -> None:
        """Count a second-factor attempt like a password attempt: guessing six digits
        locks the account as guessing a password does."""
        where = account.c.id == account_id
        taken = await self._take_attempt(where)
        await self._settle(where, taken, taken is not None and is_right())

    async def _take_attempt(self, where: ColumnElement[bool]) -> tuple[str, int] | None:
        """Take an attempt first; none is left while the account is locked or disabled."""
        now = now_micros()
        lock_over = or_(account.c.locked_until.is_(None), account.c.locked_until < now)
        async with self.engine.begin() as conn:
            taken = (await conn.execute(
                update(account)
                .where(where, account.c.disabled.is_(False),
                       or_(account.c.failed_logins < MAX_FAILED_SIGN_INS,
                           account.c.locked_until < now))
                .values(failed_logins=case((account.c.locked_until < now, 1),
                                           else_=account.c.failed_logins + 1),
                        locked_until=case((lock_over, None), else_=account.c.locked_until))
                .returning(account.c.password_hash, account.c.failed_logins))).first()
        return None if taken is None else (str(taken[0]), int(taken[1]))

    async def _settle(self, where: ColumnElement[bool], taken: tuple[str, int] | None,
                      ok: bool) -> None:
        if taken is not None and ok:
            async with self.engine.begin() as conn:
                await conn.execute(update(account).where(where)
                                   .values(failed_logins=0, locked_until=None, lockouts=0))
            return
        if taken is not None and taken[1] >= MAX_FAILED_SIGN_INS:
            async with self.engine.begin() as conn:
                lockouts = (await conn.execute(
                    update(account).where(where).values(lockouts=account.c.lockouts + 1)
                    .returning(account.c.lockouts))).scalar_one()
                length = LOCK_MICROS * 2 ** min(lockouts - 1, MAX_LOCK_DOUBLINGS)
                await conn.execute(update(account).where(where)
                                   .values(locked_until=now_micros() + length))
        raise SignInRefused(_REFUSED)


_REFUSED: Final = ("The name or password is wrong, or the account is locked after too many "
                   "failed attempts (wait 15 minutes) or disabled (ask your administrator)")
# The columns an Account is read from (also by mor.auth.tokens, with the token).
ACCOUNT_COLUMNS: Final = (account.c.id, account.c.username, account.c.role, account.c.fhir_user,
                   account.c.organizations, account.c.verified, account.c.disabled,
                   account.c.totp_secret)


def check_fhir_user(role: Role, fhir_user: str) -> None:
    """The FHIR resource an account of this role is: a Practitioner or a Patient."""
    expected = FHIR_USER_TYPES[role]
    if not fhir_user.startswith(expected + "/") or len(fhir_user.split("/")) != 2:
        raise AccountError(f"A {role.value} account is linked to a {expected}: "
                           f"give {expected}/[id], not {fhir_user!r}")


def _normalise(username: str) -> str:
    name = username.strip().lower()
    if not name:
        raise AccountError("An account needs a name to sign in with")
    return name


def account_from_row(row: Sequence[object]) -> Account:
    organizations = orjson.loads(str(row[4])) if row[4] else []
    return Account(id=str(row[0]), username=str(row[1]), role=Role(str(row[2])),
                   fhir_user=str(row[3]) if row[3] else None,
                   organizations=tuple(organizations), verified=bool(row[5]),
                   disabled=bool(row[6]), has_totp=row[7] is not None)
