"""The one place that builds OperationOutcome resources."""

from __future__ import annotations

from typing import Any

from mor.fhir.errors import FhirError, Issue


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [_issue(issue) for issue in issues],
    }


def outcome_for_error(error: FhirError) -> dict[str, Any]:
    return operation_outcome(error.issues)


def informational(diagnostics: str, code: str = "informational") -> dict[str, Any]:
    return operation_outcome([Issue(diagnostics, code=code, severity="information")])


def _issue(issue: Issue) -> dict[str, Any]:
    out: dict[str, Any] = {
        "severity": issue.severity,
        "code": issue.code,
        "diagnostics": issue.diagnostics,
    }
    if issue.expression:
        out["expression"] = [issue.expression]
    return out
