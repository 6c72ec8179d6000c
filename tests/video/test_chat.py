"""The consult's chat, on SQLite and PostgreSQL: messages and photos between the patient
and the clinician seeing them, kept as R4 Communications (and Binaries) in the
patient's record, and for nobody else."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mor.db.schema import resource
from mor.fhir.store import Store
from mor.fhir.structure_validation import validate_structure
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.lookup import find
from mor.services.video.chat import (
    MAX_PHOTO_BYTES,
    PhotoNotFound,
    messages,
    photo,
    post_photo,
    post_text,
)
from mor.services.video.consults import Consult, ConsultRefused, admit, arrive, end, walk_in
from tests.scheduling.centre import BANGKOK, patient_caller
from tests.video.conftest import Booked, Centre, tomorrow_at


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                              8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


JPEG_START = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


async def in_consult(store: Store, centre: Centre) -> tuple[Booked, Consult]:
    alice = await centre.booking(store)
    consult = await arrive(store, alice.patient.caller, alice.appointment_id, zone=BANGKOK,
                           now=tomorrow_at(8, 55))
    await admit(store, centre.doctor.caller, consult.encounter_id, now=tomorrow_at(9))
    return alice, consult


async def communications(client: httpx.AsyncClient, encounter_id: str) -> list[dict[str, Any]]:
    answer = await client.get("/Communication", params={
        "encounter": f"Encounter/{encounter_id}", "_sort": "sent"})
    assert answer.status_code == 200, answer.text
    return [e["resource"] for e in answer.json().get("entry", [])]


async def test_messages_go_between_the_patient_and_the_clinician_in_the_order_sent(
        client: httpx.AsyncClient, store: Store, centre: Centre) -> None:
    alice, consult = await in_consult(store, centre)
    eid = consult.encounter_id
    await post_text(store, alice.patient.caller, eid, "  The rash is on my arm  ",
                    now=tomorrow_at(9, 1))
    await post_text(store, centre.doctor.caller, eid, "Please send a photo of it",
                    now=tomorrow_at(9, 2))
    read = await messages(store, alice.patient.caller, eid)
    assert [(m.sender, m.text) for m in read] == [
        (f"Patient/{alice.patient.id}", "The rash is on my arm"),
        (f"Practitioner/{centre.doctor.id}", "Please send a photo of it")]
    assert read == await messages(store, centre.doctor.caller, eid)
    assert read[0].sent == tomorrow_at(9, 1)

    # In the patient's record, as any FHIR client finds it.
    found = await communications(client, eid)
    assert [c["id"] for c in found] == [m.id for m in read]
    for communication in found:
        assert validate_structure(communication) == []
        assert communication["status"] == "completed"
        assert communication["subject"] == {"reference": f"Patient/{alice.patient.id}"}
    assert found[0]["recipient"] == [{"reference": f"Practitioner/{centre.doctor.id}"}]
    assert found[1]["recipient"] == [{"reference": f"Patient/{alice.patient.id}"}]
    assert found[0]["payload"] == [{"contentString": "The rash is on my arm"}]


async def test_only_those_in_the_consult_write_and_read_its_messages(
        store: Store, centre: Centre) -> None:
    alice, consult = await in_consult(store, centre)
    eid = consult.encounter_id
    bob, _ = await patient_caller(store)
    for outsider in (bob, centre.nurse.caller):
        with pytest.raises(ConsultRefused, match="Only the patient and the clinician"):
            await post_text(store, outsider, eid, "hello")
        with pytest.raises(ConsultRefused):
            await messages(store, outsider, eid)
    with pytest.raises(ConsultRefused, match="Write a message first"):
        await post_text(store, alice.patient.caller, eid, "   ")
    with pytest.raises(ConsultRefused, match="at most 2000 characters"):
        await post_text(store, alice.patient.caller, eid, "x" * 2001)
    await post_text(store, alice.patient.caller, eid, "x" * 2000)
    await end(store, centre.doctor.caller, eid, now=tomorrow_at(9, 10))
    with pytest.raises(ConsultRefused):
        await post_text(store, alice.patient.caller, eid, "one more thing")
    assert len(await _stored_communications(store, eid)) == 1


async def test_a_photo_is_a_binary_that_only_its_consult_shows(
        client: httpx.AsyncClient, store: Store, centre: Centre) -> None:
    alice, consult = await in_consult(store, centre)
    eid = consult.encounter_id
    data = png()
    # The name a phone gives the file plays no part: only the bytes say it is a PNG.
    sent = await post_photo(store, alice.patient.caller, eid, data, "My arm this morning")
    assert (sent.photo_type, sent.text, sent.sender) == (
        "image/png", "My arm this morning", f"Patient/{alice.patient.id}")
    assert sent.photo_binary_id is not None
    assert await photo(store, centre.doctor.caller, eid, sent.photo_binary_id) == (
        "image/png", data)
    assert [m.id for m in await messages(store, centre.doctor.caller, eid)] == [sent.id]

    communication = (await communications(client, eid))[0]
    assert validate_structure(communication) == []
    attachment = communication["payload"][0]["contentAttachment"]
    assert {k: attachment[k] for k in ("url", "contentType", "size", "title")} == {
        "url": f"Binary/{sent.photo_binary_id}", "contentType": "image/png",
        "size": len(data), "title": "My arm this morning"}
    async with store.reading(EVERYTHING) as tx:
        binary = (await tx.read("Binary", sent.photo_binary_id)).resource()
    assert validate_structure(binary) == []
    # In the patient's record: their consent decides which clinicians read it.
    assert binary["securityContext"] == {"reference": f"Patient/{alice.patient.id}"}

    # Nobody outside the consult sees it, nor any Binary through this consult.
    bob, _ = await patient_caller(store)
    with pytest.raises(ConsultRefused):
        await photo(store, bob, eid, sent.photo_binary_id)
    carol, carol_id = await patient_caller(store)
    elsewhere = await walk_in(store, carol, carol_id, centre.id, now=tomorrow_at(9))
    with pytest.raises(PhotoNotFound):
        await photo(store, carol, elsewhere.encounter_id, sent.photo_binary_id)


@pytest.mark.parametrize("data", [
    b"GIF89a\x02\x00\x02\x00" + b"\x00" * 40,  # a GIF, though it may be named photo.jpg
    b"%PDF-1.7\n" + b"\x00" * 40,
    b"RIFF\x10\x00\x00\x00WAVEfmt ",  # RIFF, but sound
    b"",
    JPEG_START + b"\x00" * MAX_PHOTO_BYTES,  # one JPEG too large
], ids=["gif", "pdf", "wav", "empty", "too-large"])
async def test_a_photo_of_another_type_or_too_large_is_refused(
        store: Store, centre: Centre, data: bytes) -> None:
    alice, consult = await in_consult(store, centre)
    with pytest.raises(ConsultRefused) as refused:
        await post_photo(store, alice.patient.caller, consult.encounter_id, data)
    assert ("5 MB" if len(data) > MAX_PHOTO_BYTES else "JPEG, PNG or WebP") in (
        refused.value.reason)
    assert await _stored_communications(store, consult.encounter_id) == []
    async with store.reading(EVERYTHING) as tx:
        binaries = await tx.rows(select(func.count()).select_from(resource).where(
            resource.c.resource_type == "Binary"))
    assert binaries == [(0,)]


async def test_jpeg_and_webp_photos_are_taken_too(store: Store, centre: Centre) -> None:
    _, consult = await in_consult(store, centre)
    webp = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 24
    for data, kind in ((JPEG_START + b"\x00" * 64, "image/jpeg"), (webp, "image/webp")):
        sent = await post_photo(store, centre.doctor.caller, consult.encounter_id, data)
        assert (sent.photo_type, sent.text) == (kind, None)


async def _stored_communications(store: Store, encounter_id: str) -> list[dict[str, Any]]:
    async with store.reading(EVERYTHING) as tx:
        return await find(tx, "Communication", [("encounter", f"Encounter/{encounter_id}")])
