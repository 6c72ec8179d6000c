"""The video consultation's pages: the patient's device check and waiting room, the
clinician's waiting list, the call itself, and the signalling socket between them.

The browsers send their media to each other (WebRTC, through TURN where networks need
it); mor relays only the set-up and the call's events (see
:mod:`mor.services.video.signalling`), and keeps the consult's record: the Encounter
and its chat as Communications (:mod:`mor.services.video.consults`, ``.chat``).
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from mor.auth.accounts import Account
from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.fhir.store import Store
from mor.services.records.summary import RecordNotShared, RecordSummary, record_summary
from mor.services.records.vital_history import vital_history
from mor.services.scheduling import day_lists
from mor.services.video import chat, consults
from mor.services.video.consults import (
    CONSULTING_ROLES,
    Consult,
    ConsultNotFound,
    ConsultRefused,
)
from mor.services.video.ice import IceSettings, ice_servers
from mor.services.video.signalling import MessageTooLarge, Peer, Relay
from mor.web.dates import clock
from mor.web.page_access import checked_form
from mor.web.record_summary import RecordView
from mor.web.rendering import gettext, render
from mor.web.signin import SignIn
from mor.web.visits import VisitPages
from mor.web.vital_trends import trends

STAFF_PATH: Final = "/staff/video"
# What a browser may send through the socket; anything else is dropped.
_RELAYED: Final = frozenset({"description", "candidate", "media", "restart"})
# Larger than any session description or candidate a browser makes.
_MAX_SIGNAL_BYTES: Final = 64 * 1024
_MAX_PHOTO_BYTES: Final = 5 * 1024 * 1024
# Enough to time a phone's link (a second at 500 kbit/s), little on a metered plan.
_SPEED_TEST_BYTES: Final = 64 * 1024
# WebSocket close codes (RFC 6455 4000-4999 are the application's own).
_CLOSE_NOT_SIGNED_IN: Final = 4401
_CLOSE_NOT_ALLOWED: Final = 4403


class VideoPages:
    def __init__(self, store: Store, sign_in: SignIn, relay: Relay, ice: IceSettings,
                 zone: ZoneInfo, visits: VisitPages) -> None:
        self.store = store
        self.visits = visits
        self.sign_in = sign_in
        self.relay = relay
        self.ice = ice
        self.zone = zone

    # -- the patient --------------------------------------------------------------------

    async def patient_page(self, request: Request) -> Response:
        """On the day of a video appointment: the device check, then the waiting room,
        then the call, all on this page (a reload comes back to where it was)."""
        appointment_id = request.path_params["appointment"]
        found = await self._person(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        try:
            consult = await consults.arrive(self.store, caller, appointment_id, zone=self.zone)
        except ConsultRefused as refused:
            return render(request, "message.html", 409, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "The video consultation cannot open"),
                          text=gettext(request, refused.reason))
        return await self._to_waiting_room(consult)

    async def walk_in(self, request: Request) -> Response:
        """A same-day video consultation without a booking, at the patient's centre."""
        found = await self._person(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        form = await checked_form(request, csrf)
        if isinstance(form, Response):
            return form
        patient_id = caller.account.fhir_user_id if caller.account else None
        try:
            consult = await consults.walk_in(self.store, caller, patient_id or "",
                                             str(form.get("centre", "")))
        except ConsultRefused as refused:
            return self._refused(request, csrf, refused)
        return await self._to_waiting_room(consult)

    async def _to_waiting_room(self, consult: Consult) -> Response:
        """The clinicians' lists learn someone is waiting; the patient goes to the page."""
        await self.relay.send(_room(consult.encounter_id), {"type": "queue"})
        return RedirectResponse(f"/video/{consult.encounter_id}", 303)

    # -- the clinician ------------------------------------------------------------------

    async def waiting_list(self, request: Request) -> Response:
        found = await self._clinician(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        centres = day_lists.centres_of(caller)
        centre_id = request.query_params.get("centre")
        if centre_id not in centres:
            centre_id = centres[0] if centres else None
        # Names shown to staff are recorded (the change token below shows none).
        waiting = (await consults.waiting_room(self.store, centre_id, caller=caller,
                                               clinician_id=_practitioner_id(caller))
                   if centre_id else [])
        return render(request, "video_waiting_list.html", signed_in=True, csrf_token=csrf,
                      waiting=waiting, centre_id=centre_id,
                      since=lambda moment: clock(moment, self.zone),
                      live=f"{STAFF_PATH}/changes?" + urlencode({"centre": centre_id or ""}))

    async def waiting_changes(self, request: Request) -> Response:
        """A token that changes when the waiting list does: nothing about anyone."""
        found = await self._clinician(request)
        if isinstance(found, Response):
            return JSONResponse({"error": "sign in"}, 401)
        caller, _ = found
        centre_id = request.query_params.get("centre", "")
        if centre_id not in day_lists.centres_of(caller):
            return JSONResponse({"error": "not your centre"}, 403)
        waiting = await consults.waiting_room(self.store, centre_id,
                                              clinician_id=_practitioner_id(caller))
        token = "|".join(f"{w.consult.encounter_id}:{w.consult.waiting_since.isoformat()}"
                         for w in waiting)
        return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})

    async def admit(self, request: Request) -> Response:
        found = await self._clinician_form(request)
        if isinstance(found, Response):
            return found
        caller, csrf, _ = found
        encounter_id = request.path_params["encounter"]
        try:
            consult = await consults.admit(self.store, caller, encounter_id)
        except ConsultRefused as refused:
            return self._refused(request, csrf, refused)
        await self.relay.send(_room(encounter_id), {"type": "admitted"})
        return RedirectResponse(f"/video/{consult.encounter_id}", 303)

    async def call_page(self, request: Request) -> Response:
        """The consult's page: for the patient the device check, the waiting room and the
        call; for the clinician the call. A reload comes back to where it was."""
        found = await self._person(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        consult = await self._joinable(caller, request.path_params["encounter"])
        if consult is None:
            return self._not_yours(request, csrf)
        if caller.account is not None and caller.account.role in CONSULTING_ROLES:
            colleagues = await consults.colleagues(self.store, caller, consult)
            note = await self.visits.form_context(request, caller, consult.encounter_id)
            record = await self._record(caller, consult)
            if isinstance(record, RecordSummary):
                note["trends"] = trends(await vital_history(
                    self.store, caller, consult.patient_id), RecordView(request, self.zone))
            return self._call_page(request, consult, csrf, role="clinician",
                                   colleagues=colleagues, record=record, note=note)
        return self._call_page(request, consult, csrf, role="patient")

    async def hand_over(self, request: Request) -> Response:
        found = await self._clinician_form(request)
        if isinstance(found, Response):
            return found
        caller, csrf, form = found
        encounter_id = request.path_params["encounter"]
        try:
            await consults.hand_over(self.store, caller, encounter_id,
                                     str(form.get("practitioner", "")))
        except ConsultRefused as refused:
            return self._refused(request, csrf, refused)
        await self.relay.send(_room(encounter_id), {"type": "handed-over"})
        return RedirectResponse(STAFF_PATH, 303)

    async def end(self, request: Request) -> Response:
        found = await self._clinician_form(request)
        if isinstance(found, Response):
            return found
        caller, csrf, _ = found
        encounter_id = request.path_params["encounter"]
        try:
            await consults.end(self.store, caller, encounter_id)
        except ConsultRefused as refused:
            return self._refused(request, csrf, refused)
        await self.relay.send(_room(encounter_id), {"type": "ended"})
        # On to the note, to finish and sign it now the patient has gone.
        return RedirectResponse(f"/visits/{encounter_id}", 303)

    # -- both: state, ICE servers, chat --------------------------------------------------

    async def state(self, request: Request) -> Response:
        """The consult's status and the patient's place in the queue, for the page."""
        caller = await self._json_caller(request)
        if isinstance(caller, Response):
            return caller
        consult = await self._joinable(caller, request.path_params["encounter"]) \
            or await self._patients_own(caller, request.path_params["encounter"])
        if consult is None:
            return _json_refusal(request, 403)
        answer: dict[str, Any] = {"status": consult.status}
        if consult.status == "arrived":
            place = await consults.place_in_queue(self.store, consult.encounter_id)
            answer |= {"place": place.place,
                       "wait_minutes": round(place.expected_wait.total_seconds() / 60)}
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    async def ice_servers(self, request: Request) -> Response:
        """ICE servers with TURN credentials made now for this person, never cached."""
        caller = await self._json_caller(request)
        if isinstance(caller, Response):
            return caller
        if await self._joinable(caller, request.path_params["encounter"]) is None:
            return _json_refusal(request, 403)
        # coturn logs the user: the person's resource id (Patient-12), never a username,
        # which is often a name.
        fhir_user = caller.account.fhir_user if caller.account else None
        servers = ice_servers(self.ice, (fhir_user or "mor").replace("/", "-"))
        return JSONResponse({"iceServers": [s.as_json() for s in servers]},
                            headers={"Cache-Control": "no-store"})

    async def speed(self, request: Request) -> Response:
        """Random bytes for the device check to time: what the link carries now."""
        caller = await self._json_caller(request)
        if isinstance(caller, Response):
            return caller
        if await self._joinable(caller, request.path_params["encounter"]) is None:
            return _json_refusal(request, 403)
        return Response(os.urandom(_SPEED_TEST_BYTES), media_type="application/octet-stream",
                        headers={"Cache-Control": "no-store"})

    async def messages(self, request: Request) -> Response:
        caller = await self._json_caller(request)
        if isinstance(caller, Response):
            return caller
        encounter_id = request.path_params["encounter"]
        try:
            found = await chat.messages(self.store, caller, encounter_id)
        except ConsultRefused:
            return _json_refusal(request, 403)
        return JSONResponse({"messages": [_message_json(encounter_id, m) for m in found]},
                            headers={"Cache-Control": "no-store"})

    async def post_message(self, request: Request) -> Response:
        caller = await self._json_caller(request)
        if isinstance(caller, Response):
            return caller
        encounter_id = request.path_params["encounter"]
        form = await request.form(max_part_size=_MAX_PHOTO_BYTES + 1024)
        if not await self._csrf_matches(request, form.get("csrf_token")):
            return JSONResponse({"error": gettext(
                request, "The form expired; reload the page.")}, 400)
        photo = form.get("photo")
        try:
            if isinstance(photo, UploadFile) and photo.filename:
                data = await photo.read(_MAX_PHOTO_BYTES + 1)
                message = await chat.post_photo(self.store, caller, encounter_id, data,
                                                str(form.get("text", "")))
            else:
                message = await chat.post_text(self.store, caller, encounter_id,
                                               str(form.get("text", "")))
        except ConsultRefused as refused:
            return JSONResponse({"error": gettext(request, refused.reason)}, 400)
        shown = _message_json(encounter_id, message)
        await self.relay.send(_room(encounter_id), {"type": "chat", "message": shown})
        return JSONResponse(shown, 201)

    async def photo(self, request: Request) -> Response:
        caller = await self._json_caller(request)
        if isinstance(caller, Response):
            return caller
        try:
            content_type, data = await chat.photo(self.store, caller,
                                                  request.path_params["encounter"],
                                                  request.path_params["binary"])
        except (ConsultRefused, LookupError):
            return _json_refusal(request, 404)
        return Response(data, media_type=content_type,
                        headers={"Cache-Control": "private, no-store"})

    # -- the signalling socket -----------------------------------------------------------

    async def signal(self, socket: WebSocket) -> None:
        """Relay one browser's signalling to the others in its consult's room.

        The socket is opened with the person's session cookie, from a page of mor
        itself (the Origin is checked: a cookie alone would let another site's page
        join on a signed-in person's behalf)."""
        admitted = await self._admitted(socket)
        # Accepted before any refusal, so the browser learns why (a refused handshake is
        # only "1006, abnormal closure" to it).
        await socket.accept()
        if isinstance(admitted, int):
            await socket.close(admitted)
            return
        account, caller = admitted
        encounter_id = socket.path_params["encounter"]
        room = _room(encounter_id)
        role = "clinician" if account.role in CONSULTING_ROLES else "patient"
        peer = Peer(secrets.token_urlsafe(9), role, socket.send_json)
        # Who else is in the room the browser learns from their answers to "peer-joined",
        # which reach every process; this one knows only its own sockets.
        await socket.send_json({"type": "welcome", "peer": peer.id, "role": role})
        await self.relay.join(room, peer)
        try:
            await self._relay_from(socket, room, peer, caller)
        finally:
            await self.relay.leave(room, peer.id)

    async def _admitted(self, socket: WebSocket) -> tuple[Account, Principal] | int:
        """The person behind a socket who may join its consult, or the close code."""
        if not _same_origin(socket):
            return _CLOSE_NOT_ALLOWED
        session, account = await self.sign_in.signed_in(socket)
        if session is None or account is None:
            return _CLOSE_NOT_SIGNED_IN
        caller = await person_caller(self.store, account)
        if await self._joinable(caller, socket.path_params["encounter"]) is None:
            return _CLOSE_NOT_ALLOWED
        return account, caller

    async def _relay_from(self, socket: WebSocket, room: str, peer: Peer,
                          caller: Principal) -> None:
        encounter_id = room.removeprefix("consult:")
        while True:
            try:
                raw = await socket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            if len(raw) > _MAX_SIGNAL_BYTES:
                continue
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(message, dict) or message.get("type") not in _RELAYED:
                continue
            # Someone removed from the consult (handed over, or it ended) is let go.
            if not await consults.may_join(self.store, caller, encounter_id):
                await socket.close(_CLOSE_NOT_ALLOWED)
                return
            to = message.pop("to", None)
            try:
                await self.relay.send(room, message, sender=peer.id,
                                      to=to if isinstance(to, str) else None)
            except MessageTooLarge:
                continue

    # -- helpers ------------------------------------------------------------------------

    def _call_page(self, request: Request, consult: Consult, csrf: str, *, role: str,
                   colleagues: list[tuple[str, str]] | None = None,
                   record: RecordSummary | RecordNotShared | None = None,
                   note: dict[str, Any] | None = None) -> Response:
        refused = gettext(request, record.reason) if isinstance(
            record, RecordNotShared) else None
        return render(request, "video_call.html", signed_in=True, csrf_token=csrf,
                      consult=consult, role=role, colleagues=colleagues or [],
                      staff_path=STAFF_PATH, relay_only=self.ice.relay_only,
                      summary=record if isinstance(record, RecordSummary) else None,
                      record_refusal=refused, record=RecordView(request, self.zone),
                      **(note or {}))

    async def _record(self, caller: Principal, consult: Consult
                      ) -> RecordSummary | RecordNotShared:
        """The patient's record beside the call, as far as their consent lets the
        clinician see it: the page opens either way."""
        try:
            return await record_summary(
                self.store, caller, consult.patient_id,
                today=datetime.now(self.zone).date(), current_encounter=consult.encounter_id)
        except RecordNotShared as refused:
            return refused

    async def _joinable(self, caller: Principal, encounter_id: str) -> Consult | None:
        try:
            if not await consults.may_join(self.store, caller, encounter_id):
                return None
            return await consults.get_consult(self.store, encounter_id)
        except ConsultNotFound:
            return None

    async def _patients_own(self, caller: Principal, encounter_id: str) -> Consult | None:
        """A consult of the caller's own (or of someone they act for), joinable or not:
        the patient's page learns that it ended."""
        try:
            consult = await consults.get_consult(self.store, encounter_id)
        except ConsultNotFound:
            return None
        own = caller.account.fhir_user_id if caller.account else None
        return consult if consult.patient_id in (own, *caller.proxies) else None

    async def _person(self, request: Request) -> tuple[Principal, str] | Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            return RedirectResponse("/auth/login?" + urlencode({"next": request.url.path}),
                                    303)
        return await person_caller(self.store, account, address=_address(request)), \
            session.csrf_token

    async def _clinician(self, request: Request) -> tuple[Principal, str] | Response:
        found = await self._person(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        if caller.account is None or caller.account.role not in CONSULTING_ROLES:
            return render(request, "message.html", 403, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "This page is for doctors and nurses"),
                          text=gettext(request, "Doctors and nurses see the patients "
                                                "waiting for a video consultation here."))
        return caller, csrf

    async def _clinician_form(self, request: Request
                              ) -> tuple[Principal, str, Any] | Response:
        found = await self._clinician(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        form = await checked_form(request, csrf)
        if isinstance(form, Response):
            return form
        return caller, csrf, form

    async def _json_caller(self, request: Request) -> Principal | Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            return JSONResponse({"error": gettext(request, "Sign in again.")}, 401)
        return await person_caller(self.store, account, address=_address(request))

    async def _csrf_matches(self, request: Request, token: Any) -> bool:
        session, _ = await self.sign_in.signed_in(request)
        return session is not None and isinstance(token, str) and \
            secrets.compare_digest(token, session.csrf_token)

    def _refused(self, request: Request, csrf: str, refused: ConsultRefused) -> Response:
        return render(request, "message.html", 409, signed_in=True, csrf_token=csrf,
                      heading=gettext(request, "That could not be done"),
                      text=gettext(request, refused.reason))

    def _not_yours(self, request: Request, csrf: str) -> Response:
        return render(request, "message.html", 403, signed_in=True, csrf_token=csrf,
                      heading=gettext(request, "This consultation is not yours to join"),
                      text=gettext(request, "Only the patient and the clinician who admitted "
                                            "them join a video consultation."))


def _room(encounter_id: str) -> str:
    return f"consult:{encounter_id}"


def _practitioner_id(caller: Principal) -> str | None:
    user = caller.account.fhir_user if caller.account else None
    return user.removeprefix("Practitioner/") if user and user.startswith(
        "Practitioner/") else None


def _message_json(encounter_id: str, message: chat.Message) -> dict[str, Any]:
    return {"id": message.id, "sent": message.sent.isoformat(), "sender": message.sender,
            "text": message.text,
            "photo": (f"/video/{encounter_id}/photos/{message.photo_binary_id}"
                      if message.photo_binary_id else None)}


def _json_refusal(request: Request, status: int) -> Response:
    return JSONResponse({"error": gettext(request, "This consultation is not yours to join")},
                        status)


def _same_origin(connection: HTTPConnection) -> bool:
    origin = connection.headers.get("origin")
    if not origin:
        return False
    host = connection.headers.get("host", "")
    return urlsplit(origin).netloc == host


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


__all__ = ["STAFF_PATH", "VideoPages"]
