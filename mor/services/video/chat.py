"""The chat of a video consultation: text messages and photos between the patient and
the clinician seeing them, kept in the patient's record.

Each message is a FHIR R4 ``Communication``: ``status`` completed, ``encounter`` the
consult's Encounter, ``subject`` the patient, ``sender`` who wrote it (Patient,
RelatedPerson acting for them, or Practitioner) and ``recipient`` the other side (the
clinician responsible, or the centre while nobody is), ``sent``, and the text as
``payload.contentString``. A photo is a ``Binary`` (its ``securityContext`` the
Patient, so it is in their record) and a Communication whose
``payload.contentAttachment`` points at it (``url`` ``Binary/<id>``, ``contentType``,
``size``, SHA-1 ``hash``, ``title``), its caption a second, ``contentString``, payload.
A FHIR client finds a consult's chat with ``Communication?encounter=Encounter/<id>``.

Only those who may join the call (:func:`mor.services.video.consults.joins`) write or
read its chat; each reading is recorded, as FHIR reads are.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from mor.auth.policy import Principal
from mor.fhir.access_records import record_with_write
from mor.fhir.errors import Gone, NotFound
from mor.fhir.permissions import Access
from mor.fhir.store import Store, Transaction
from mor.fhir.visibility import EVERYTHING
from mor.messages import N_
from mor.services.scheduling.lookup import find, reference_id
from mor.services.video.consults import (
    ConsultRefused,
    consult_of,
    joins,
    read_encounter,
    sender_of,
)

MAX_TEXT_CHARS: Final = 2000
MAX_PHOTO_BYTES: Final = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    sent: datetime
    sender: str  # "Patient/x", "RelatedPerson/r" or "Practitioner/y"
    text: str | None
    photo_binary_id: str | None
    photo_type: str | None


class PhotoNotFound(LookupError):
    """No photo of this consult has this id."""


async def post_text(store: Store, caller: Principal, encounter_id: str, text: str, *,
                    now: datetime | None = None) -> Message:
    text = text.strip()
    if not text:
        raise ConsultRefused(N_("Write a message first"))
    _check_length(text)
    return await _post(store, caller, encounter_id, [{"contentString": text}], None, now)


async def post_photo(store: Store, caller: Principal, encounter_id: str, data: bytes,
                     caption: str = "", *, now: datetime | None = None) -> Message:
    """A photo (JPEG, PNG or WebP, at most MAX_PHOTO_BYTES) with an optional caption."""
    if len(data) > MAX_PHOTO_BYTES:
        raise ConsultRefused(N_("A photo can be at most 5 MB; send a smaller one"))
    content_type = photo_type(data)
    if content_type is None:
        raise ConsultRefused(N_("Send a photo in JPEG, PNG or WebP format"))
    caption = caption.strip()
    _check_length(caption)
    binary = {"resourceType": "Binary", "contentType": content_type,
              "data": base64.b64encode(data).decode("ascii")}
    attachment = {"contentType": content_type, "size": len(data),
                  "hash": base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"),
                  "title": caption or "Photo"}
    payload: list[dict[str, Any]] = [{"contentAttachment": attachment}]
    if caption:
        payload.append({"contentString": caption})
    return await _post(store, caller, encounter_id, payload, binary, now)


async def messages(store: Store, caller: Principal, encounter_id: str) -> list[Message]:
    """The consult's chat, in the order sent."""
    async with store.writing(EVERYTHING) as tx:
        await _joined(tx, caller, encounter_id)
        found = await _communications(tx, encounter_id)
        await record_with_write(tx, caller, Access(
            "GET", "Communication", f"encounter=Encounter/{encounter_id}", 200))
    return [message_of(c) for c in found]


async def photo(store: Store, caller: Principal, encounter_id: str, binary_id: str
                ) -> tuple[str, bytes]:
    """A photo sent in the consult, as its content type and bytes; PhotoNotFound for any
    Binary that is not one of this consult's photos."""
    async with store.writing(EVERYTHING) as tx:
        await _joined(tx, caller, encounter_id)
        attached = {m.photo_binary_id for m in map(message_of, await _communications(
            tx, encounter_id))}
        if binary_id not in attached:
            raise PhotoNotFound(binary_id)
        try:
            binary = (await tx.read("Binary", binary_id)).resource()
        except (NotFound, Gone):
            raise PhotoNotFound(binary_id) from None
        await record_with_write(tx, caller, Access("GET", f"Binary/{binary_id}", "", 200))
    return str(binary["contentType"]), base64.b64decode(binary.get("data", ""))


def photo_type(data: bytes) -> str | None:
    """The image type of ``data`` by its first bytes, if it is one the chat takes: the
    file's name and the type its browser claims say nothing reliable."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":  # after RIFF, the length
        return "image/webp"
    return None


def message_of(communication: dict[str, Any]) -> Message:
    texts = [p["contentString"] for p in communication.get("payload") or ()
             if isinstance(p.get("contentString"), str)]
    attachments = [p["contentAttachment"] for p in communication.get("payload") or ()
                   if isinstance(p.get("contentAttachment"), dict)]
    binary_id = reference_id({"reference": attachments[0].get("url", "")}, "Binary"
                             ) if attachments else None
    return Message(
        id=communication["id"], sent=datetime.fromisoformat(communication["sent"]),
        sender=(communication.get("sender") or {}).get("reference", ""),
        text=texts[0] if texts else None, photo_binary_id=binary_id,
        photo_type=attachments[0].get("contentType") if attachments else None)


async def _post(store: Store, caller: Principal, encounter_id: str,
                payload: list[dict[str, Any]], binary: dict[str, Any] | None,
                now: datetime | None) -> Message:
    sent = (now or datetime.now(UTC)).astimezone(UTC)
    async with store.writing(EVERYTHING) as tx:
        encounter = await _joined(tx, caller, encounter_id)
        consult = consult_of(encounter)
        sender = sender_of(caller, consult.patient_id)
        if sender is None:
            raise ConsultRefused(_NOT_YOURS)
        if binary is not None:
            stored = await tx.create(binary | {
                "securityContext": {"reference": f"Patient/{consult.patient_id}"}})
            payload[0]["contentAttachment"]["url"] = stored.reference
        created = await tx.create({
            "resourceType": "Communication", "status": "completed",
            "subject": {"reference": f"Patient/{consult.patient_id}"},
            "encounter": {"reference": f"Encounter/{encounter_id}"},
            "sent": sent.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "sender": {"reference": sender},
            "recipient": _recipients(sender, consult.patient_id, consult.clinician_id,
                                     consult.centre_id),
            "payload": payload,
        })
        await record_with_write(tx, caller, Access("POST", "Communication", "", 201))
    return message_of(created.resource())


def _recipients(sender: str, patient_id: str, clinician_id: str | None,
                centre_id: str | None) -> list[dict[str, str]]:
    if sender.startswith("Practitioner/"):
        return [{"reference": f"Patient/{patient_id}"}]
    if clinician_id is not None:
        return [{"reference": f"Practitioner/{clinician_id}"}]
    # A walk-in nobody has admitted yet writes to the centre.
    return [{"reference": f"Organization/{centre_id}"}] if centre_id else []


async def _joined(tx: Transaction, caller: Principal, encounter_id: str) -> dict[str, Any]:
    encounter = (await read_encounter(tx, encounter_id)).resource()
    if not joins(caller, encounter):
        raise ConsultRefused(_NOT_YOURS)
    return encounter


async def _communications(tx: Transaction, encounter_id: str) -> list[dict[str, Any]]:
    return await find(tx, "Communication", [
        ("encounter", f"Encounter/{encounter_id}"), ("_sort", "sent")])


def _check_length(text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise ConsultRefused(N_("A message can be at most 2000 characters long"))


_NOT_YOURS: Final = N_("Only the patient and the clinician seeing them can write and read "
                       "this consultation's messages")
