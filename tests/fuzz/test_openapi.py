"""Every operation of every service's OpenAPI document, fuzzed by schemathesis against the running processes.

The bar: no 5xx, and no status, header or body outside what the document says. Each operation gets a bounded
number of generated requests, valid and invalid ones, with a valid credential so the fuzzer reaches past
authentication (schemathesis's own checks also call without it). The examples are derandomized: the same
requests on every run, so a failure here is reproducible.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.result import Ok

from mpp_devstack.platform import Platform

pytestmark = pytest.mark.slow

# Rules that depend on data cannot be written into a schema (a NIK's region code, a service code that exists in
# the catalogue), so a 422 to a schema-valid request is right and this one check is left out; every other
# check (no 5xx, statuses, content types, response schemas and headers, negative data rejected...) applies.
EXCLUDED = [positive_data_acceptance]

EXAMPLES = 25  # per operation and mode: about 1,500 requests over the four services


def _process(name: str, platform: Platform) -> str:
    return f"intake-{platform.sites[0]}" if name == "intake" else name


def _token(name: str, path: str, platform: Platform, secrets: dict[str, str]) -> str | None:
    if name == "catalog":
        return secrets["catalog_admin_token"] if path.startswith("/admin") else None
    if name == "intake":
        # Cancel and erase are a supervisor's: with an operator's token they would be fuzzed only up to the 403.
        supervisors = path.endswith(("/cancel", "/erase"))
        site = platform.sites[0]
        return platform.supervisor_token(site) if supervisors else platform.operator_token(site)
    if name == "notify":
        return (
            secrets["notify_ops_token"] if path.startswith("/messages") else secrets["delivery_report_token"]
        )
    return None


def _run(operation: Any, mode: GenerationMode, base_url: str, token: str | None) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def call(case: Any) -> None:
        headers = dict(case.headers or {})
        if token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {token}"
        case.call_and_validate(base_url=base_url, headers=headers, timeout=10, excluded_checks=EXCLUDED)

    call()


def _fuzz(name: str, platform: Platform, secrets: dict[str, str]) -> None:
    base_url = platform.url(_process(name, platform))
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"an operation the fuzzer cannot read: {result.err()}")
            continue
        operation = result.ok()
        token = _token(name, operation.path, platform, secrets)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run(operation, mode, base_url, token)
            except Unsatisfiable:
                pass  # nothing to make invalid (an operation without parameters or body)
            except Exception as failure:  # one operation's failure must not hide the others'
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("service", ["catalog", "intake", "routing", "notify"])
def test_every_operation_answers_as_documented(
    service: str, fuzz_platform: Platform, platform_secrets: dict[str, str]
) -> None:
    _fuzz(service, fuzz_platform, platform_secrets)
