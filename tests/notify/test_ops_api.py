"""The ops read API: status, template, segments, provider and timestamps; never the phone number in full,
never the body; a bearer token."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from notify import retention


def auth(stack: Any, token: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or stack.OPS_TOKEN}"}


async def test_ops_api_needs_the_ops_token(stack: Any) -> None:
    message_id = await stack.new_message(stack.number("0001"))
    for headers in (
        {},
        auth(stack, "wrong"),
        {"Authorization": stack.OPS_TOKEN},
        auth(stack, stack.REPORT_TOKEN),
    ):
        answer = await stack.client.get(f"/messages/{message_id}", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["error"]["code"] == "unauthorized"
    listing = await stack.client.get("/messages", params={"application_id": str(uuid4())})
    assert listing.status_code == 401
    bad_id = await stack.client.get("/messages/not-a-uuid")  # no token: 401 before anything else
    assert bad_id.status_code == 401


async def test_one_message_with_the_phone_masked_and_no_body(stack: Any) -> None:
    phone = stack.number("0001")
    application_id = uuid4()
    message_id = await stack.new_message(phone, application_id=application_id)
    await stack.dispatcher().dispatch_once()
    await stack.reports_done()
    answer = await stack.client.get(f"/messages/{message_id}", headers=auth(stack))
    assert answer.status_code == 200
    view = answer.json()
    assert view["id"] == str(message_id) and view["application_id"] == str(application_id)
    assert (view["status"], view["template"], view["template_version"], view["segments"]) == (
        "delivered",
        "permohonan_diterima",
        1,
        1,
    )
    assert view["provider"] == "twilio" and view["provider_message_id"].startswith("SM")
    assert view["phone_masked"] == "+62********001"
    assert view["created_at"] and view["updated_at"] and view["next_attempt_at"] is None
    body = (await stack.row(message_id))["body"]
    assert "body" not in view
    assert phone not in answer.text and phone[1:] not in answer.text and body not in answer.text


async def test_messages_of_an_application(stack: Any) -> None:
    application_id = uuid4()
    first = await stack.new_message(stack.number("0001"), application_id=application_id)
    second = await stack.new_message(
        stack.number("0001"), application_id=application_id, template="siap_diambil"
    )
    await stack.new_message(stack.number("0001"))  # another application
    answer = await stack.client.get(
        "/messages", params={"application_id": str(application_id)}, headers=auth(stack)
    )
    assert answer.status_code == 200
    listed = answer.json()["messages"]
    assert [m["id"] for m in listed] == [str(first), str(second)]
    assert [m["status"] for m in listed] == ["created", "created"]
    assert all(m["next_attempt_at"] for m in listed)  # created: when it is due
    none = await stack.client.get("/messages", params={"application_id": str(uuid4())}, headers=auth(stack))
    assert none.json() == {"messages": []}


async def test_unknown_and_malformed_requests(stack: Any) -> None:
    missing = await stack.client.get(f"/messages/{uuid4()}", headers=auth(stack))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    malformed = await stack.client.get("/messages/not-a-uuid", headers=auth(stack))
    assert malformed.status_code == 422
    bad_filter = await stack.client.get("/messages", params={"unconfirmed_for_s": "-1"}, headers=auth(stack))
    assert (
        bad_filter.status_code == 422
        and bad_filter.json()["error"]["fields"][0]["field"] == "unconfirmed_for_s"
    )
    too_many = await stack.client.get(
        "/messages", params={"application_id": str(uuid4()), "limit": 10_000}, headers=auth(stack)
    )
    assert too_many.status_code == 422


async def test_purged_message_has_no_phone_at_all(stack: Any) -> None:
    message_id = await stack.new_message(stack.number("0001"))
    await stack.pool.execute(
        "UPDATE sms_message SET status = 'delivered', created_at = now() - interval '10 days' WHERE id = $1",
        message_id,
    )
    await retention.purge(stack.pool, older_than_days=7)
    view = (await stack.client.get(f"/messages/{message_id}", headers=auth(stack))).json()
    assert view["phone_masked"] is None and view["purged_at"] and view["status"] == "delivered"
