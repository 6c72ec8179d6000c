"""A stored resource as the body of its next version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

# What the server sets on each version; a client's or a service's values are replaced.
SERVER_SET: Final = frozenset({"versionId", "lastUpdated"})


def editable(resource: Mapping[str, Any]) -> dict[str, Any]:
    """``resource`` without the meta the server sets on each version, keeping the tags,
    security labels and profiles it carries: a service that changes an appointment's
    status must not drop a label a client put on the appointment."""
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in SERVER_SET}
    body = {k: v for k, v in resource.items() if k != "meta"}
    if meta:
        body["meta"] = meta
    return body
