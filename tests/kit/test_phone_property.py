"""Our phone normaliser against libphonenumber (the `phonenumbers` package), on generated Indonesian mobile
numbers typed the ways people type them. The normaliser does not use the package; this test keeps the two in
agreement."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpp_kit.phone import InvalidPhoneNumber, normalize_msisdn

# Mobile prefixes in use (NSN, without the trunk 0): Telkomsel 811-813, 821-823, 851-853; Indosat 814-816,
# 855-858; XL 817-819, 859, 877-878; Axis 831-833, 838; Smartfren 881-889; Three 895-899.
MOBILE_PREFIXES = (
    *("811", "812", "813", "821", "822", "823", "851", "852", "853"),
    *("814", "815", "816", "855", "856", "857", "858"),
    *("817", "818", "819", "859", "877", "878"),
    *("831", "832", "833", "838"),
    *(f"88{d}" for d in range(1, 10)),
    *(f"89{d}" for d in range(5, 10)),
)
SEPARATORS = ("", " ", "-", ".")
# Digits that are not ASCII but that `str.isdigit` and the regex `\d` accept.
FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
ARABIC_INDIC = {str(d): chr(0x0660 + d) for d in range(10)}


@st.composite
def mobile_nsn(draw: st.DrawFn) -> str:
    """A national significant number: a real prefix, then subscriber digits up to 9 to 12 digits in all."""
    prefix = draw(st.sampled_from(MOBILE_PREFIXES))
    length = draw(st.integers(min_value=9, max_value=12))
    rest = draw(st.text(alphabet="0123456789", min_size=length - 3, max_size=length - 3))
    return prefix + rest


@st.composite
def grouped(draw: st.DrawFn, digits: str) -> str:
    """The digits cut into groups joined by one kind of separator, as on a form or a business card."""
    separator = draw(st.sampled_from(SEPARATORS))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=len(digits) - 1), max_size=4)))
    groups = [digits[i:j] for i, j in zip([0, *cuts], [*cuts, len(digits)], strict=True)]
    return separator.join(groups)


@st.composite
def typed_number(draw: st.DrawFn) -> tuple[str, str, str]:
    """(how it was typed, its form, the NSN): 08..., +62... or 62..., with separators."""
    nsn = draw(mobile_nsn())
    form = draw(st.sampled_from(("national", "plus", "bare62")))
    if form == "national":
        typed = draw(grouped("0" + nsn))
    else:
        between = draw(st.sampled_from(("", " ")))
        typed = ("+62" if form == "plus" else "62") + between + draw(grouped(nsn))
    return typed, form, nsn


def libphonenumber_e164(typed: str) -> str:
    number = phonenumbers.parse(typed, "ID")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@settings(max_examples=400, deadline=None)
@given(typed_number())
def test_valid_mobile_numbers_normalise_as_libphonenumber_does(case: tuple[str, str, str]) -> None:
    typed, form, nsn = case
    mobile = "+62" + nsn
    reference = phonenumbers.parse(typed, "ID")
    if form == "bare62" and len(nsn) <= 9:
        # The 62 ambiguity (see mpp_kit.phone): libphonenumber reads it as a national number, not this mobile;
        # we refuse it and ask for +62 or 08 instead of guessing.
        assert libphonenumber_e164(typed) != mobile
        with pytest.raises(InvalidPhoneNumber) as refused:
            normalize_msisdn(typed)
        assert refused.value.code == "ambiguous_landline"
        return
    assert phonenumbers.is_valid_number(reference)
    assert phonenumbers.number_type(reference) == phonenumbers.PhoneNumberType.MOBILE
    assert normalize_msisdn(typed) == libphonenumber_e164(typed) == mobile


@st.composite
def with_foreign_digits(draw: st.DrawFn, everywhere: bool) -> str:
    """A valid typed number with its digits (all of them, or some) written in another script."""
    typed, _, _ = draw(typed_number())
    script = draw(st.sampled_from((FULL_WIDTH, ARABIC_INDIC)))
    if everywhere:
        return "".join(script.get(ch, ch) for ch in typed)
    positions = [i for i, ch in enumerate(typed) if ch.isdigit()]
    chosen = draw(st.sets(st.sampled_from(positions), min_size=1))
    return "".join(script[ch] if i in chosen else ch for i, ch in enumerate(typed))


def refused_or_ascii(typed: str) -> None:
    """Either refused, or normalised to the ASCII E.164 form libphonenumber gives (it reads these digits)."""
    try:
        normalised = normalize_msisdn(typed)
    except InvalidPhoneNumber:
        return
    assert normalised.isascii(), f"{typed!r} -> {normalised!r} keeps non-ASCII digits"
    assert normalised == libphonenumber_e164(typed)


@settings(max_examples=200, deadline=None)
@given(with_foreign_digits(everywhere=True))
def test_numbers_written_wholly_in_other_digits_are_refused_or_made_ascii(typed: str) -> None:
    refused_or_ascii(typed)


@settings(max_examples=200, deadline=None)
@given(with_foreign_digits(everywhere=False))
def test_numbers_mixing_ascii_and_other_digits_are_refused_or_made_ascii(typed: str) -> None:
    refused_or_ascii(typed)
