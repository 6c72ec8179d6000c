"""``POST [base]/Patient/[id]/$break-glass``: a clinician's emergency access to a patient
outside their reach (see :mod:`mor.auth.break_glass`).

Takes a ``Parameters`` body with ``reason`` (valueString); answers ``Parameters`` with
``expires`` (valueInstant). The opening is itself an AuditEvent in the patient's
compartment, with purpose of use BTG and the reason.
"""

from __future__ import annotations

import re
from typing import Any, Final

from mor.auth import audit
from mor.auth.break_glass import BreakGlass
from mor.auth.policy import Principal
from mor.fhir.errors import BadRequest, Forbidden, MethodNotAllowed
from mor.fhir.permissions import Access, Interaction
from mor.fhir.requests import FhirRequest, FhirResponse
from mor.fhir.store import Store
from mor.fhir.timestamps import instant_from_micros
from mor.fhir.visibility import EVERYTHING

_PATH: Final = re.compile(r"Patient/([A-Za-z0-9\-.]{1,64})/\$break-glass")


def is_break_glass_path(path: str) -> bool:
    return _PATH.fullmatch(path) is not None


async def answer(store: Store, break_glass: BreakGlass, request: FhirRequest
                 ) -> FhirResponse:
    match = _PATH.fullmatch(request.path)
    assert match is not None
    patient_id = match.group(1)
    if request.method != "POST":
        raise MethodNotAllowed("$break-glass is called with POST and a reason")
    caller = request.caller
    if not isinstance(caller, Principal) or caller.account is None:
        caller.check(Interaction.READ, "Patient")  # anonymous: 401
        raise Forbidden("Only a clinician signed in as themselves may break the glass")
    reason = _reason(request.body)
    async with store.reading(EVERYTHING) as tx:
        await tx.read("Patient", patient_id)  # 404 when there is no such patient
    expires = await break_glass.open(caller.account, patient_id, reason)
    access = Access("POST", request.path, "", patients={patient_id})
    agents = [audit.person_agent(caller.account.fhir_user, caller.account.username,
                                 caller.address)]
    await store.append(audit.with_emergency(audit.audit_event(access, agents=agents), reason))
    return FhirResponse(200, body={"resourceType": "Parameters", "parameter": [
        {"name": "expires", "valueInstant": instant_from_micros(expires)}]})


def _reason(body: Any) -> str:
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for parameter in body.get("parameter") or ():
            if isinstance(parameter, dict) and parameter.get("name") == "reason":
                value = parameter.get("valueString")
                if isinstance(value, str):
                    return value
    raise BadRequest("Send a Parameters resource with a 'reason' (valueString): why care "
                     "cannot wait for the patient's consent")
