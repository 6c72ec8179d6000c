"""The patient's page of what they share: their record with other health centres and
doctors, and their data for research and open data (see mor.services.consents)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.auth.accounts import Account
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.errors import FhirError
from mor.fhir.store import Store
from mor.services import consents
from mor.web.rendering import render
from mor.web.signin import SignIn, lang_url


class SharingPages:
    def __init__(self, store: Store, sign_in: SignIn) -> None:
        self.store = store
        self.sign_in = sign_in

    async def page(self, request: Request) -> Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None or account.role is not Role.PATIENT:
            return RedirectResponse("/auth/login?next=/account/sharing", 303)
        return await self._page(request, account, session.csrf_token)

    async def change(self, request: Request) -> Response:
        session, account = await self.sign_in.signed_in(request)
        form = await request.form()
        if session is None or account is None or account.role is not Role.PATIENT or (
                not session.csrf_matches(str(form.get("csrf_token", "")))):
            return RedirectResponse("/auth/login?next=/account/sharing", 303)
        caller = Principal(client_id=None, account=account, scopes=None,
                           address=request.client.host if request.client else None)
        patient = account.fhir_user_id or ""
        action = form.get("action")
        try:
            if action == "share":
                actor = str(form.get("actor", ""))
                names = dict(await self._choices(caller))
                if actor in names:
                    await consents.share(self.store, caller, patient, actor, names[actor])
            elif action == "withdraw":
                await consents.withdraw(self.store, caller, str(form.get("consent", "")))
            elif action == "research" and form.get("research") in ("yes", "no"):
                await consents.choose_research(self.store, caller, patient,
                                               form.get("research") == "yes")
        except FhirError:
            return await self._page(request, account, session.csrf_token, status=400)
        return RedirectResponse("/account/sharing", 303)

    async def _page(self, request: Request, account: Account, csrf: str,
                    status: int = 200) -> Response:
        caller = Principal(client_id=None, account=account, scopes=None)
        patient = account.fhir_user_id or ""
        sharing = (await consents.sharing_of(self.store, caller, patient)
                   if account.verified else [])
        research = (await consents.research_choice(self.store, caller, patient)
                    if account.verified else None)
        choices = await self._choices(caller) if account.verified else []
        return render(request, "sharing.html", status, verified=account.verified,
                      sharing=sharing, research=research, choices=choices,
                      csrf_token=csrf, lang_url=lang_url(request))

    async def _choices(self, caller: Principal) -> list[tuple[str, str]]:
        """Health centres and doctors of the directory, by name."""
        choices: list[tuple[str, str]] = []
        for resource in await consents.directory(self.store, caller):
            name = resource.get("name")
            if resource["resourceType"] == "Practitioner" and isinstance(name, list) and name:
                first = name[0]
                text = first.get("text") or " ".join(
                    [*first.get("prefix", []), *first.get("given", []), first.get("family", "")])
            else:
                text = str(name or resource["id"])
            choices.append((f"{resource['resourceType']}/{resource['id']}", text.strip()))
        return sorted(choices, key=lambda choice: choice[1])
