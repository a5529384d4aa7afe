"""Personal data in logs and events: the log filter masks NIK and phone numbers and nothing else; sealed values
open only with the right key and untouched."""

from __future__ import annotations

import base64
import json
import logging
import uuid

import pytest
from opentelemetry.sdk.trace import TracerProvider

from mpp_kit.logs import JsonFormatter, mask_personal_data
from mpp_kit.sealing import SealingError, new_key, seal, unseal

NIK = "6402024101900001"


@pytest.mark.parametrize(
    "phone",
    [
        "081234560001",
        "0812-3456-0001",
        "0812 3456 0001",
        "(0812) 3456-0001",
        "6281234560001",
        "+6281234560001",
        "+62 812-3456-0001",
        "+62 812 3456 0001",
        "0812.3456.0001",
    ],
)
def test_phone_numbers_are_masked_in_their_usual_spellings(phone: str) -> None:
    assert mask_personal_data(f"kirim ke {phone}, lalu selesai") == "kirim ke [phone], lalu selesai"


@pytest.mark.parametrize("text", [f"nik={NIK}", f"NIK {NIK}.", f'{{"nik": "{NIK}"}}', f"({NIK})"])
def test_a_nik_is_masked(text: str) -> None:
    masked = mask_personal_data(text)
    assert NIK not in masked and "[nik]" in masked


@pytest.mark.parametrize(
    "phone",
    [
        "0812 - 3456 - 0001",
        "0812/3456/0001",
        "0812_3456_0001",
        "08 12 34 56 00 01",
        "+62-812-3456-0001",
        "+62 (812) 3456-0001",
        "+62(0)812-3456-0001",
        "0812\u00a03456\u00a00001",
    ],
)
def test_phone_numbers_with_other_separators_are_masked(phone: str) -> None:
    assert mask_personal_data(f"kirim ke {phone}, lalu selesai") == "kirim ke [phone], lalu selesai"


@pytest.mark.parametrize(
    "nik", ["6402 0241 0190 0001", "6402-0241-0190-0001", "64.02.02.410190.0001", "640202 410190 0001"]
)
def test_a_nik_written_in_groups_is_masked(nik: str) -> None:
    assert mask_personal_data(f"NIK {nik} ditolak") == "NIK [nik] ditolak"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # repr() in an error message or a traceback: the letter of the escape sits right before the number.
        (repr(f"catatan\n{NIK}"), "'catatan\\n[nik]'"),
        (repr("catatan\t081234560001"), "'catatan\\t[phone]'"),
        ("catatan\\x0a081234560001", "catatan\\x0a[phone]"),
        ("catatan\\u00a0081234560001", "catatan\\u00a0[phone]"),
        ("after a newline\n081234560001", "after a newline\n[phone]"),
        (f"nik_{NIK} phone_081234560001", "nik_[nik] phone_[phone]"),
    ],
)
def test_numbers_after_escapes_newlines_and_underscores_are_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


def test_dates_side_by_side_are_not_a_nik() -> None:
    text = "closed 2026-11-30 2026-12-30, 17 digits 12345678901234567, ip 10.0.0.1 10.0.0.2"
    assert mask_personal_data(text) == text


@pytest.mark.parametrize(
    "identifier",
    [
        "1234567890123456d4607803e33f66c9",  # a trace id whose first half is all digits (the reported bug)
        "d4607803e33f66c91234567890123456",
        "6281234560001abc",  # a span id starting like a phone number
        "0812345600019f3a",
        "3f2a9c1e-0b8e-4c1a-9d2e-081234560001",  # a UUID whose last group reads as a phone number
        "64020241-0190-4001-8000-081234560001",
        str(uuid.UUID(int=0x6402024101900001_0000000000000000)),
    ],
)
def test_identifiers_are_never_touched(identifier: str) -> None:
    text = f"event {identifier} relayed; trace={identifier}"
    assert mask_personal_data(text) == text


def test_numbers_that_are_not_personal_data_are_kept() -> None:
    text = "2026-11-30T20:41:36.123Z took 1234 ms, offset 98765, 17 digits 12345678901234567"
    assert mask_personal_data(text) == text


def test_a_json_log_line_masks_message_and_extras_but_keeps_the_trace_id() -> None:
    formatter = JsonFormatter("svc")
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "applicant %s texted at %s", (NIK, "0812-3456-0001"), None
    )
    record.span_id = "6402024101900001"  # a span id that happens to be 16 decimal digits
    record.event_id = "3f2a9c1e-0b8e-4c1a-9d2e-081234560001"
    record.note = f"nik {NIK}"
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("submit") as span:
        trace_id = f"{span.get_span_context().trace_id:032x}"
        line = json.loads(formatter.format(record))
    assert line["msg"] == "applicant [nik] texted at [phone]"
    assert line["note"] == "nik [nik]"
    assert line["trace_id"] == trace_id
    assert line["span_id"] == "6402024101900001"
    assert line["event_id"] == "3f2a9c1e-0b8e-4c1a-9d2e-081234560001"


def test_seal_round_trip_and_every_seal_differs() -> None:
    key = new_key()
    first, second = seal("+6281234560001", key), seal("+6281234560001", key)
    assert first != second, "a fresh nonce each time: equal numbers do not give equal tokens"
    assert "6281234560001" not in first
    assert unseal(first, key) == unseal(second, key) == "+6281234560001"


def test_a_tampered_token_does_not_open() -> None:
    key = new_key()
    head, _, body = seal("+6281234560001", key).rpartition(".")  # head: version and key id
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[-1] ^= 0x01
    tampered = f"{head}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(SealingError):
        unseal(tampered, key)


def test_a_token_does_not_open_with_another_key() -> None:
    with pytest.raises(SealingError, match="cannot be opened"):
        unseal(seal("+6281234560001", new_key()), new_key())


@pytest.mark.parametrize("token", ["", "v1.", "v2.AAAA", "not a token", "v1.!!!notbase64!!!", "v1.AAAA"])
def test_a_malformed_token_is_a_sealing_error(token: str) -> None:
    with pytest.raises(SealingError):
        unseal(token, new_key())


@pytest.mark.parametrize("key", ["", "not base64 at all!", base64.urlsafe_b64encode(b"short").decode()])
def test_a_bad_key_is_a_sealing_error(key: str) -> None:
    with pytest.raises(SealingError):
        seal("+6281234560001", key)
