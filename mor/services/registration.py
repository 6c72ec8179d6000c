"""Patients registering themselves: details, a one-time code to their phone or e-mail,
then an account linked to their FHIR Patient.

The account is not yet *verified*: until a health centre checks the person's identity
document (``mor user verify``, or staff at the centre), it sees general information
only. A registration with the document of a Patient mor already holds is linked to that
Patient; the check at the health centre is what makes the link trusted.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import orjson
from sqlalchemy import delete, update

from mor.auth.accounts import Account, Accounts
from mor.auth.identifiers import IdentifierError, identifier
from mor.auth.passwords import check_password_strength, hash_secret
from mor.auth.roles import Role
from mor.db.schema import registration
from mor.fhir.search import compile_search
from mor.fhir.store import Store
from mor.fhir.timestamps import now_micros
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.messaging import Sender

CODE_SECONDS: Final = 15 * 60
MAX_CODE_ATTEMPTS: Final = 5
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE: Final = re.compile(r"\+?\d{9,15}")


class RegistrationError(ValueError):
    """Details that cannot be registered, with the reason for the person registering."""


@dataclass(frozen=True, slots=True)
class Details:
    given: str
    family: str
    birth_date: str  # YYYY-MM-DD
    contact: str  # e-mail address or phone number
    document_kind: str
    document_number: str
    document_country: str | None = None
    # The language they registered in (BCP 47: th, lo, en): mor writes to them in it.
    language: str | None = None

    @property
    def is_email(self) -> bool:
        return "@" in self.contact


@dataclass(frozen=True, slots=True)
class Message:
    """The one-time code message, in the person's language (see mor.web)."""

    subject: str
    text: str  # with {code} where the code goes


class Registrations:
    def __init__(self, store: Store, accounts: Accounts, email: Sender, sms: Sender) -> None:
        self.store = store
        self.accounts = accounts
        self.email = email
        self.sms = sms

    async def start(self, details: Details, password: str, message: Message) -> str:
        """Check the details, send the code; returns the registration's id."""
        contact = _contact(details.contact)
        details = Details(details.given.strip(), details.family.strip(), details.birth_date,
                          contact, details.document_kind, details.document_number,
                          details.document_country, details.language)
        if not details.given or not details.family:
            raise RegistrationError(N_("Give your given name and family name"))
        _check_birth_date(details.birth_date)
        try:
            identifier(details.document_kind, details.document_number,
                       details.document_country)
        except IdentifierError as error:
            raise RegistrationError(str(error)) from None
        try:
            check_password_strength(password)
        except ValueError as error:
            raise RegistrationError(str(error)) from None
        if await self.accounts.find(contact) is not None:
            raise RegistrationError(N_("An account with this e-mail address or phone number "
                                       "exists already; sign in instead"))
        registration_id = str(uuid.uuid4())
        code = f"{secrets.randbelow(1_000_000):06d}"
        async with self.store.engine.begin() as conn:
            await conn.execute(registration.delete().where(
                registration.c.expires < now_micros()))
            await conn.execute(registration.insert().values(
                id=registration_id, details=orjson.dumps(_as_dict(details)).decode(),
                password_hash=hash_secret(password), code_hash=_code_hash(registration_id,
                                                                          code),
                attempts=0, expires=now_micros() + CODE_SECONDS * 1_000_000))
        sender = self.email if details.is_email else self.sms
        await sender.send(contact, message.subject, message.text.format(code=code))
        return registration_id

    async def confirm(self, registration_id: str, code: str) -> Account:
        """The code is right: make the Patient (or find it) and the account."""
        async with self.store.engine.begin() as conn:
            row = (await conn.execute(
                update(registration)
                .where(registration.c.id == registration_id,
                       registration.c.expires > now_micros(),
                       registration.c.attempts < MAX_CODE_ATTEMPTS)
                .values(attempts=registration.c.attempts + 1)
                .returning(registration.c.details, registration.c.password_hash,
                           registration.c.code_hash))).first()
        if row is None:
            raise RegistrationError(N_("This registration has expired or had too many wrong "
                                       "codes; please register again"))
        if not secrets.compare_digest(row[2], _code_hash(registration_id, code.strip())):
            raise RegistrationError(N_("The code is not right; check the message we sent"))
        details = Details(**orjson.loads(row[0]))
        patient_id = await self._patient(details)
        account = await self.accounts.add(
            details.contact, None, Role.PATIENT, fhir_user=f"Patient/{patient_id}",
            password_hash=row[1])
        async with self.store.engine.begin() as conn:
            await conn.execute(delete(registration).where(registration.c.id == registration_id))
        return account

    async def _patient(self, details: Details) -> str:
        document = identifier(details.document_kind, details.document_number,
                              details.document_country)
        async with self.store.writing(EVERYTHING) as tx:
            found = await tx.find(compile_search("Patient", [
                ("identifier", f"{document['system']}|{document['value']}")]).query, limit=1)
            if found:
                existing = await tx.read_many(found)
                return existing[0].id
            telecom = {"system": "email" if details.is_email else "phone",
                       "value": details.contact, "use": "mobile" if not details.is_email
                       else "home"}
            patient: dict[str, Any] = {
                "resourceType": "Patient", "identifier": [document],
                "name": [{"use": "official", "family": details.family,
                          "given": details.given.split()}],
                "birthDate": details.birth_date, "telecom": [telecom]}
            if details.language:
                patient["communication"] = [{"preferred": True, "language": {"coding": [
                    {"system": "urn:ietf:bcp:47", "code": details.language}]}}]
            stored = await tx.create(patient)
            return stored.id


def _as_dict(details: Details) -> dict[str, Any]:
    return {name: getattr(details, name) for name in Details.__slots__}


def _contact(raw: str) -> str:
    text = raw.strip()
    if "@" in text:
        if not _EMAIL.fullmatch(text):
            raise RegistrationError(N_("That is not an e-mail address"))
        return text.lower()
    phone = re.sub(r"[\s().-]", "", text)
    if not _PHONE.fullmatch(phone):
        raise RegistrationError(N_("Give an e-mail address or a phone number (9 to 15 "
                                   "digits)"))
    return phone


def _check_birth_date(value: str) -> None:
    try:
        born = date.fromisoformat(value)
    except ValueError:
        raise RegistrationError(N_("Give the date of birth as year-month-day")) from None
    if born > date.today() or born.year < 1890:
        raise RegistrationError(N_("That date of birth cannot be right"))


def _code_hash(registration_id: str, code: str) -> str:
    return hashlib.sha256(f"{registration_id}:{code}".encode()).hexdigest()


__all__ = ["Details", "Message", "RegistrationError", "Registrations"]
