"""GSM 03.38 downgrade and SMS segment counting (boundaries as GOV.UK Notify tests them)."""

from __future__ import annotations

import pytest

from notify.gsm7 import GSM7_BASIC, GSM7_EXTENSION, SegmentCount, count_segments, is_gsm7, sanitize


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (153, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4), (918, 6), (919, 7)],
)
def test_gsm7_boundaries(length: int, segments: int) -> None:
    assert count_segments("a" * length) == SegmentCount("GSM-7", length, segments)


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_ucs2_boundaries(length: int, segments: int) -> None:
    text = "ก" * length  # Thai: not GSM-7, one UTF-16 unit each
    assert count_segments(text) == SegmentCount("UCS-2", length, segments)


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION - {"\f"}))
def test_extension_characters_count_two(char: str) -> None:
    assert count_segments(char) == SegmentCount("GSM-7", 2, 1)
    assert count_segments(char * 80).segments == 1  # 160 septets
    assert count_segments(char * 81).segments == 2  # 162 septets


def test_extension_pair_never_straddles_a_segment() -> None:
    # 152 plain septets then one euro (2 septets): 154 > 153, so the euro opens part two...
    text = "a" * 152 + "€" + "a" * 10
    assert count_segments(text) == SegmentCount("GSM-7", 164, 2)
    # ...and a long run of escapes packs 76 per part (152 septets), not 76.5.
    assert count_segments("€" * 153).segments == 3  # 306 septets, but 76 + 76 + 1 pairs


def test_emoji_takes_a_surrogate_pair_in_ucs2() -> None:
    assert count_segments("👍") == SegmentCount("UCS-2", 2, 1)
    assert count_segments("a" * 69 + "👍").segments == 2  # 71 units


def test_accented_letters_in_gsm7_stay_gsm7() -> None:
    text = "Café Müller à Ñandù"
    assert is_gsm7(text)
    assert count_segments(text).encoding == "GSM-7"


def test_empty_text_is_one_segment() -> None:
    assert count_segments("") == SegmentCount("GSM-7", 0, 1)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\u2018kutip\u2019", "'kutip'"),  # smart single quotes
        ("\u201cJadwal\u201d", '"Jadwal"'),  # smart double quotes
        ("\u00abIya\u00bb", '"Iya"'),
        ("08.00\u201312.00", "08.00-12.00"),  # en dash
        ("Senin\u2014Rabu", "Senin-Rabu"),  # em dash
        ("\u2212 5", "- 5"),  # minus sign
        ("tunggu\u2026", "tunggu..."),  # ellipsis
        ("a\u00a0b\u202fc\u2009d", "a b c d"),  # no-break, narrow no-break, thin space
        ("a\tb", "a b"),
        ("ze\u200bro\u200c\u200dwidth\u2060", "zerowidth"),
        ("\ufeffBOM", "BOM"),
        ("soft\u00adhyphen", "softhyphen"),
        ("á í ó ú â ê î ô û ã õ ç", "a i o u a e i o u a o c"),  # not in GSM-7: base letter
        (
            "é è ù ì ò É Ä Ö Ñ Ü ä ö ñ ü à ß Å å Ø ø Æ æ",
            "é è ù ì ò É Ä Ö Ñ Ü ä ö ñ ü à ß Å å Ø ø Æ æ",
        ),  # kept
        ("Ą Ł Ś Ż", "A ? S Z"),  # Ł has no decomposition
        ("\ufb01le", "file"),  # ligature fi (NFKD)
        ("\uff21\uff22", "AB"),  # fullwidth letters (NFKD)
        ("2\u00b2", "22"),  # superscript two
        ("Terima kasih \U0001f64f", "Terima kasih ?"),  # emoji
        ("\u2764\ufe0f", "?"),  # emoji with its variation selector: one ?
        ("\u4e2d\u6587", "??"),  # CJK
        ("€5 [ok] {x} ~ | ^ \\", "€5 [ok] {x} ~ | ^ \\"),  # extension characters are kept
        ("baris\r\nbaru", "baris\nbaru"),
        ("`tanda`", "'tanda'"),
    ],
)
def test_sanitize_downgrades(raw: str, clean: str) -> None:
    assert sanitize(raw) == clean
    assert is_gsm7(sanitize(raw))


def test_sanitize_keeps_every_gsm7_character() -> None:
    everything = "".join(sorted(GSM7_BASIC | GSM7_EXTENSION))
    assert sanitize(everything) == everything


def test_sanitize_is_idempotent() -> None:
    text = "\u201cPaspor\u201d \u2013 Selasa\u2026 caf\u00e9 na\u00efve \U0001f600"
    once = sanitize(text)
    assert sanitize(once) == once


def test_is_gsm7() -> None:
    assert is_gsm7("Permohonan KKR-7F3K-9Q2M diterima.")
    assert not is_gsm7("Permohonan \u2013 diterima")
    assert not is_gsm7("\u00e1")
