"""The pharmacist's pages: the centre's e-prescriptions to check (with the warnings the
prescriber overrode), accepting or querying one back, dispensing it for a rider, the post
or pick-up, and moving each delivery on until the patient has their medicines
(:mod:`mor.services.pharmacy`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final, cast
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.services.pharmacy.delivery import STEP_NAMES, advance, next_steps
from mor.services.pharmacy.dispensing import Method, dispense
from mor.services.pharmacy.prescription import PharmacyRefused
from mor.services.pharmacy.queue import pharmacy_queue
from mor.services.pharmacy.verification import accept, query_back
from mor.services.scheduling import day_lists
from mor.web.dates import clock
from mor.web.i18n import N_, language_of
from mor.web.page_access import checked_form, person_for
from mor.web.record_summary import RecordView
from mor.web.rendering import formatted, gettext, render
from mor.web.signin import SignIn

PHARMACY_PATH: Final = "/pharmacy"


class PharmacyPages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo) -> None:
        self.store = store
        self.sign_in = sign_in
        self.zone = zone

    async def queue(self, request: Request) -> Response:
        found = await self._pharmacist(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        return await self._queue_page(request, caller, csrf)

    async def accept(self, request: Request) -> Response:
        return await self._act(request, lambda caller, form, task: accept(
            self.store, caller, task))

    async def query_back(self, request: Request) -> Response:
        return await self._act(request, lambda caller, form, task: query_back(
            self.store, caller, task, str(form.get("question", ""))))

    async def dispense(self, request: Request) -> Response:
        # The service refuses a method it does not know, with the reason.
        return await self._act(request, lambda caller, form, task: dispense(
            self.store, caller, task, cast(Method, str(form.get("method", ""))),
            str(form.get("tracking", "")) or None))

    async def advance(self, request: Request) -> Response:
        return await self._act(request, lambda caller, form, task: advance(
            self.store, caller, task, str(form.get("to", ""))))

    # -- helpers ------------------------------------------------------------------------

    async def _act(self, request: Request,
                   action: Callable[[Principal, FormData, str], Awaitable[Any]]
                   ) -> Response:
        """Do ``action`` on the Task of the address, then back to the queue; a refusal
        is shown on the queue, which is read again."""
        found = await self._pharmacist(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        form = await checked_form(request, csrf)
        if isinstance(form, Response):
            return form
        centre = str(form.get("centre", ""))
        try:
            await action(caller, form, request.path_params["task"])
        except PharmacyRefused as refused:
            text = gettext(request, refused.message)
            params = dict(refused.params)
            for name in ("current", "to"):
                if name in params:
                    params[name] = gettext(request, STEP_NAMES.get(params[name])
                                           or params[name])
            return await self._queue_page(request, caller, csrf, centre=centre,
                                          error=formatted(text, params), status=409)
        return RedirectResponse(PHARMACY_PATH + "?" + urlencode({"centre": centre}), 303)

    async def _queue_page(self, request: Request, caller: Principal, csrf: str, *,
                          centre: str | None = None, error: str | None = None,
                          status: int = 200) -> Response:
        centres = day_lists.centres_of(caller)
        centre_id = centre or request.query_params.get("centre")
        if centre_id not in centres:
            centre_id = centres[0] if centres else None
        queue = (await pharmacy_queue(self.store, caller, centre_id,
                                      language=language_of(request))
                 if centre_id else None)
        view = RecordView(request, self.zone)

        def when(text: str) -> str:
            moment = datetime.fromisoformat(text)
            return f"{view.day(moment)} {clock(moment, self.zone)}"

        def step_name(status: str) -> str:
            return gettext(request, STEP_NAMES.get(status) or status)

        return render(request, "pharmacy.html", status, signed_in=True, csrf_token=csrf,
                      queue=queue, centre_id=centre_id, error=error, when=when,
                      step_name=step_name, next_steps=next_steps)

    async def _pharmacist(self, request: Request) -> tuple[Principal, str] | Response:
        return await person_for(
            request, self.store, self.sign_in, {Role.PHARMACIST},
            heading=N_("This page is for pharmacists"),
            text=N_("Pharmacists check and dispense the health centre's prescriptions "
                    "here."))


__all__ = ["PHARMACY_PATH", "PharmacyPages"]
