"""Schemathesis over the real app on a real socket (every operation of /openapi.json, positive
and negative cases, every check, an admin key): no operation answers a server error.

A few examples per operation keep this under a minute; ``python -m experiments.schemathesis_run
--examples N`` is the full run."""

from __future__ import annotations

import pytest

from experiments.schemathesis_run import run

# Operations left out while their server errors are fixed in a change of their own (label as
# "METHOD /path", with the failing case in a comment); empty when every operation is clean.
EXPECTED_ELSEWHERE: tuple[str, ...] = ()
# Findings that are not defects of the responses: the schema cannot say everything the API
# validates (a phone number's digits, a time's accepted range, the one-of rule of a message
# source), so schema-valid requests it refuses with 422 are expected, and a query string
# schemathesis calls invalid may still parse.
ACCEPTED_FINDINGS = ("Schema-valid request rejected", "Schema-violating request accepted")


@pytest.mark.slow
def test_no_operation_answers_a_server_error() -> None:
    results = run(3, exclude=EXPECTED_ELSEWHERE)
    assert len(results) >= 20
    assert sum(r.cases for r in results) > 100
    failing = {r.label: r.examples for r in results if r.server_errors}
    assert failing == {}
    # Response conformance (status documented, body and content type as the schema says) holds.
    findings = {
        r.label: {k: n for k, n in r.failures.items() if not k.startswith(ACCEPTED_FINDINGS)}
        for r in results
    }
    assert {label: f for label, f in findings.items() if f} == {}
