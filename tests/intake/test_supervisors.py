"""Operators and supervisors: cancelling an application and erasing an applicant's personal data cannot be undone,
so they are a supervisor's (403 with the reason for an operator); static tokens say the role with `#supervisor`,
signed tokens with their `role` claim (anything but exactly "supervisor" is an operator)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import ValidationError

from intake.settings import IntakeSettings, Operator
from mpp_devstack.infra import Infra
from tests.intake.conftest import (
    OTHER_SITE_SUPERVISOR_TOKEN,
    SERVICE,
    Intake,
    intake_settings,
    running_intake,
)

APPLICANT = {"name": "Dewi Lestari", "nik": "6402024101900001", "phone": "0812-7000-4321"}
COUNTER = {"service_code": SERVICE, "channel": "counter", "applicant": APPLICANT}
REASON = {"reason": "permintaan pemohon"}


def test_static_tokens_say_the_role_after_the_name() -> None:
    settings = IntakeSettings(
        site_id="loa-kulu",
        operator_tokens="ani:t1, sari#supervisor:t2, dedi@tabang#supervisor:t3, eko#operator:t4",
    )
    assert settings.operators() == {
        "t1": Operator("ani", "loa-kulu", "operator"),
        "t2": Operator("sari", "loa-kulu", "supervisor"),
        "t3": Operator("dedi", "tabang", "supervisor"),
        "t4": Operator("eko", "loa-kulu", "operator"),
    }


@pytest.mark.parametrize("role", ["supervsior", "admin", "Supervisor"])
def test_a_static_token_with_an_unknown_role_stops_the_start(role: str) -> None:
    with pytest.raises(ValidationError, match="role must be one of operator, supervisor") as refused:
        IntakeSettings(site_id="loa-kulu", operator_tokens=f"ani:t1,sari#{role}:secret-token")
    assert "secret-token" not in str(refused.value)  # the setting is a secret: named, never shown


def _claims(**overrides: Any) -> dict[str, Any]:
    return {"sub": "spv-loa-kulu", "name": "Budi", "site": "loa-kulu", **overrides}


@pytest.mark.parametrize(
    ("claim", "role"),
    [
        ({"role": "supervisor"}, "supervisor"),
        ({"role": "operator"}, "operator"),
        ({}, "operator"),
        ({"role": "admin"}, "operator"),
        ({"role": "SUPERVISOR"}, "operator"),
        ({"role": ["supervisor"]}, "operator"),
    ],
)
def test_a_signed_tokens_role_claim_makes_a_supervisor_only_when_it_says_exactly_so(
    claim: dict[str, Any], role: str
) -> None:
    settings = IntakeSettings(site_id="loa-kulu")
    assert settings.signed_operator(_claims(**claim)) == Operator("Budi", "loa-kulu", role)  # type: ignore[arg-type]


async def closed_application(intake: Intake) -> str:
    """A counter application cancelled by a supervisor (so its data may be erased)."""
    accepted = await intake.client.post("/applications", json=COUNTER, headers=intake.operator())
    application_id = str(accepted.json()["application_id"])
    cancelled = await intake.client.post(
        f"/applications/{application_id}/cancel", json={"reason": "tidak jadi"}, headers=intake.supervisor()
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["history"][-1]["changed_by"] == "sari"
    return application_id


async def test_an_operator_may_neither_cancel_nor_erase(intake: Intake) -> None:
    accepted = await intake.client.post("/applications", json=COUNTER, headers=intake.operator())
    open_one = accepted.json()["application_id"]
    refused = await intake.client.post(
        f"/applications/{open_one}/cancel", json={"reason": "tidak jadi"}, headers=intake.operator()
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == {
        "code": "forbidden",
        "message": "only a supervisor may do this",
        "fields": [
            {"field": "Authorization", "reason": "a supervisor's credential is required, not an operator's"}
        ],
    }
    # Nothing changed, nothing was announced.
    assert [e["type"] for e in await intake.events()] == ["application.submitted"]

    closed = await closed_application(intake)
    erase = await intake.client.post(f"/applications/{closed}/erase", json=REASON, headers=intake.operator())
    assert (erase.status_code, erase.json()["error"]["code"]) == (403, "forbidden")
    # Before the body is read too: an operator learns nothing from a body it may not send.
    empty = await intake.client.post(f"/applications/{closed}/erase", json={}, headers=intake.operator())
    assert empty.status_code == 403
    view = await intake.client.get(f"/applications/{closed}", headers=intake.operator())
    assert view.json()["applicant_name"] == APPLICANT["name"]

    erased = await intake.client.post(
        f"/applications/{closed}/erase", json=REASON, headers=intake.supervisor()
    )
    assert erased.status_code == 200, erased.text
    assert (erased.json()["applicant_name"], erased.json()["history"][-1]["changed_by"]) == ("", "sari")


async def test_another_sites_supervisor_finds_nothing(intake: Intake) -> None:
    closed = await closed_application(intake)
    elsewhere = intake.operator(OTHER_SITE_SUPERVISOR_TOKEN)
    for action, body in (("erase", REASON), ("cancel", {"reason": "tidak jadi"})):
        answer = await intake.client.post(f"/applications/{closed}/{action}", json=body, headers=elsewhere)
        assert answer.status_code == 404, (action, answer.text)


async def test_the_consoles_signed_token_carries_the_role(
    infra: Infra, database: str, silent_relay: None
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings = intake_settings(infra, database, intake_token_public_key=public.decode())

    def signed(**claims: Any) -> dict[str, str]:
        now = int(time.time())
        token = jwt.encode(
            {
                "iss": "mpp-web",
                "aud": "mpp-intake",
                "sub": "console-user",
                "name": "Budi",
                "site": settings.site_id,
                "iat": now,
                "exp": now + 300,
                **claims,
            },
            key,
            algorithm="EdDSA",
        )
        return {"Authorization": f"Bearer {token}"}

    async with running_intake(settings) as intake:
        accepted = await intake.client.post("/applications", json=COUNTER, headers=signed(role="operator"))
        assert accepted.status_code == 201, accepted.text
        url = f"/applications/{accepted.json()['application_id']}/cancel"

        async def cancel(headers: dict[str, str]) -> httpx.Response:
            return await intake.client.post(url, json={"reason": "tidak jadi"}, headers=headers)

        for not_a_supervisor in (signed(role="operator"), signed(role="admin"), signed()):
            assert (await cancel(not_a_supervisor)).status_code == 403
        done = await cancel(signed(role="supervisor"))
        assert done.status_code == 200, done.text
        assert done.json()["history"][-1]["changed_by"] == "Budi"
