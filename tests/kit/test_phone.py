"""Indonesian mobile number normalisation: accepted forms, refusals with their reasons, masking."""

from __future__ import annotations

import pytest

from mpp_kit.phone import InvalidPhoneNumber, last_digits, mask_msisdn, normalize_msisdn, to_national

VALID = [
    # (typed, E.164)
    ("081234567890", "+6281234567890"),
    ("0812-3456-7890", "+6281234567890"),
    ("0812 3456 7890", "+6281234567890"),
    ("0812.3456.7890", "+6281234567890"),
    ("(0812) 3456 7890", "+6281234567890"),
    ("+62 812-3456-7890", "+6281234567890"),
    ("+6281234567890", "+6281234567890"),
    ("+62 (0)812 3456 7890", "+6281234567890"),  # stray trunk 0 after the country code
    ("6281234567890", "+6281234567890"),  # 62 + 11 digits: too long for a landline read nationally
    ("628123456789", "+628123456789"),  # 62 + 10 digits
    ("62 0812 3456 7890", "+6281234567890"),  # stray trunk 0 after 62 without a plus
    ("81234567890", "+6281234567890"),  # bare national significant number
    ("  0812\u00a03456\u00a07890 ", "+6281234567890"),  # no-break spaces from copy-paste
    ("+62812345678", "+62812345678"),  # 9-digit NSN, the shortest mobile: unambiguous with the +
    ("0812345678", "+62812345678"),
    ("+62881234567890", "+62881234567890"),  # 12-digit NSN, the longest (Smartfren 088x)
    ("0895 1234 5678", "+6289512345678"),  # Three (089x)
    ("0852-1234-5678", "+6285212345678"),  # Telkomsel (085x)
    ("0838 1234 5678", "+6283812345678"),  # Axis (083x)
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid_forms(raw: str, expected: str) -> None:
    assert normalize_msisdn(raw) == expected


INVALID = [
    # (typed, code, words the reason must contain)
    ("", "empty", "no phone number"),
    ("   ", "empty", "no phone number"),
    ("0812-abc-7890", "bad_characters", "only contain digits"),
    ("0812 3456 7890 ext 1", "bad_characters", "only contain digits"),
    ("+1 415 555 0100", "foreign", "Indonesian"),
    ("+60 12 345 6789", "foreign", "Indonesian"),
    ("0062 812 3456 7890", "foreign", "00 prefix"),
    # the 62 pitfall: 62 + nine digits reads as a landline (area code 062x) unless written with a +
    ("62812345678", "ambiguous_landline", "+62"),
    ("62 812 345 678", "ambiguous_landline", "landline"),
    ("6254112345", "ambiguous_landline", "landline"),
    ("(0541) 123456", "landline", "landline numbers cannot receive SMS"),  # Samarinda
    ("0541-7654321", "landline", "landline numbers cannot receive SMS"),
    ("021 5551234", "landline", "landline numbers cannot receive SMS"),  # Jakarta
    ("+62 21 5551234", "landline", "landline numbers cannot receive SMS"),
    ("+62 541 123456", "landline", "landline numbers cannot receive SMS"),
    ("5417654321", "landline", "landline numbers cannot receive SMS"),  # area code without its 0
    ("0800 1234567", "toll_free", "toll-free"),
    ("0800-1-234567", "toll_free", "toll-free"),
    ("08001 234567", "toll_free", "toll-free"),
    ("0804 1234567", "shared_cost", "shared-cost"),
    ("0809 1234567", "premium", "premium"),
    ("+62 809 1234567", "premium", "premium"),
    ("112", "short_code", "short codes"),
    ("3636", "short_code", "short codes"),
    ("14045", "short_code", "short codes"),
    ("1500123", "short_code", "short codes"),
    ("0812345", "too_short", "10 to 13 digits"),
    ("08123456", "too_short", "10 to 13 digits"),
    ("08123456789012", "too_long", "10 to 13 digits"),  # a 13-digit NSN is one too many
    ("0842 1234 5678", "not_mobile", "not Indonesian mobile prefixes"),
    ("0807 1234 5678", "not_mobile", "not Indonesian mobile prefixes"),
    ("0", "too_short", "too short"),
    ("+62", "too_short", "too short"),
]


@pytest.mark.parametrize(("raw", "code", "words"), INVALID)
def test_invalid_forms(raw: str, code: str, words: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        normalize_msisdn(raw)
    assert caught.value.code == code
    assert words in caught.value.reason
    assert str(caught.value) == caught.value.reason
    assert isinstance(caught.value, ValueError)


def test_twelve_digit_nsn_is_the_longest_accepted() -> None:
    assert normalize_msisdn("0812345678901") == "+62812345678901"


def test_reason_never_repeats_the_number() -> None:
    for raw in ("(0541) 123456", "62812345678", "0809 1234567", "+1 415 555 0100"):
        with pytest.raises(InvalidPhoneNumber) as caught:
            normalize_msisdn(raw)
        digits = "".join(ch for ch in raw if ch.isdigit())
        assert digits not in caught.value.reason


def test_plus_resolves_the_62_ambiguity() -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_msisdn("62812345678")
    assert normalize_msisdn("+62812345678") == "+62812345678"
    assert normalize_msisdn("0812345678") == "+62812345678"


def test_normalising_is_idempotent() -> None:
    for raw, e164 in VALID:
        assert normalize_msisdn(e164) == e164, raw


@pytest.mark.parametrize(
    ("e164", "visible", "masked"),
    [
        ("+6281234567890", 3, "+62********890"),
        ("+62812345678", 3, "+62******678"),
        ("+6281234567890", 4, "+62*******7890"),
        ("+6281234567890", 0, "+62***********"),
        ("", 3, "***"),
    ],
)
def test_mask(e164: str, visible: int, masked: str) -> None:
    assert mask_msisdn(e164, visible) == masked


def test_mask_default_keeps_fewer_digits_than_the_tracking_factor() -> None:
    masked = mask_msisdn("+6281234567890")
    assert masked.endswith("890") and not masked.endswith("7890")
    assert "81234567" not in masked


def test_last_digits_and_national() -> None:
    assert last_digits("+6281234567890") == "7890"
    assert last_digits("+6281234567890", 6) == "567890"
    assert to_national("+6281234567890") == "081234567890"
    with pytest.raises(ValueError):
        last_digits("+6281234567890", 0)
    with pytest.raises(ValueError):
        to_national("+14155550100")
