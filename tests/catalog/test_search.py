"""Counter-operator search: abbreviations, synonyms, typos and speed, on the Kukar catalogue."""

from __future__ import annotations

import time

import pytest

from catalog.domain import ServiceType
from catalog.search import FUZZY1, FUZZY2, SearchIndex, content_words, normalize, stem, tokenize
from catalog.seed import DEFAULT_DATA_DIR, load_catalogue


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.of(load_catalogue(DEFAULT_DATA_DIR))


# What operators type at a counter, including typos, and the service they mean.
QUERIES = [
    ("ktp", "DUKCAPIL-KTP-EL-BARU"),
    ("e-KTP", "DUKCAPIL-KTP-EL-BARU"),
    ("ktp hilang", "DUKCAPIL-KTP-EL-HILANG"),
    ("KTP rusak", "DUKCAPIL-KTP-EL-RUSAK"),
    ("kk", "DUKCAPIL-KK-BARU"),
    ("kartu keluaga", "DUKCAPIL-KK-BARU"),
    ("kk hilang", "DUKCAPIL-KK-HILANG-RUSAK"),
    ("pecah kk", "DUKCAPIL-KK-PISAH"),
    ("akta lahir", "DUKCAPIL-AKTA-LAHIR"),
    ("akte kelahran", "DUKCAPIL-AKTA-LAHIR"),
    ("AKTA KELAHÍRAN", "DUKCAPIL-AKTA-LAHIR"),
    ("akta kematian", "DUKCAPIL-AKTA-MATI"),
    ("akta meninggal", "DUKCAPIL-AKTA-MATI"),
    ("surat pindah", "DUKCAPIL-PINDAH-KELUAR"),
    ("pindah datang", "DUKCAPIL-PINDAH-DATANG"),
    ("kia", "DUKCAPIL-KIA"),
    ("ktp digital", "DUKCAPIL-IKD-AKTIVASI"),
    ("paspor", "IMIGRASI-PASPOR-BARU"),
    ("pasport", "IMIGRASI-PASPOR-BARU"),
    ("perpanjang paspor", "IMIGRASI-PASPOR-PENGGANTIAN"),
    ("skck", "POLRES-SKCK-BARU"),
    ("skck baru", "POLRES-SKCK-BARU"),
    ("perpanjangan skck", "POLRES-SKCK-PERPANJANG"),
    ("sim", "POLRES-SIM-C-PERPANJANG"),
    ("perpanjang sim a", "POLRES-SIM-A-PERPANJANG"),
    ("perpanjang sim c", "POLRES-SIM-C-PERPANJANG"),
    ("bikin sim c", "POLRES-SIM-C-BARU"),
    ("sim b1 baru", "POLRES-SIM-BI-BARU"),
    ("npwp", "KPP-NPWP-OP"),
    ("npwp pribadi", "KPP-NPWP-OP"),
    ("npwp perusahaan", "KPP-NPWP-BADAN"),
    ("lapor spt", "KPP-SPT-TAHUNAN-OP"),
    ("bpjs", "BPJSKES-DAFTAR-MANDIRI"),
    ("bpjs ketenagakerjaan", "BPJSTK-DAFTAR-BPU"),
    ("cairkan jht", "BPJSTK-KLAIM-JHT"),
    ("pindah faskes", "BPJSKES-PINDAH-FKTP"),
    ("izin usaha", "DPMPTSP-NIB-UMK"),
    ("ijin usaha", "DPMPTSP-NIB-UMK"),
    ("siup", "DPMPTSP-NIB-UMK"),
    ("imb", "DPMPTSP-PBG-RUMAH-SEDERHANA"),
    ("izin praktik bidan", "DPMPTSP-SIP-BIDAN"),
    ("pirt", "DPMPTSP-OSS-SPP-IRT"),
    ("pajak motor", "SAMSAT-PKB-TAHUNAN-R2"),
    ("balik nama mobil", "SAMSAT-BALIK-NAMA-R4"),
    ("stnk hilang", "SAMSAT-STNK-HILANG"),
    ("cek sertifikat", "BPN-PENGECEKAN"),
    ("sertipikat hilang", "BPN-SERTIFIKAT-HILANG"),
    ("balik nama sertifikat", "BPN-PERALIHAN-JUAL-BELI"),
    ("daftar haji", "KEMENAG-HAJI-DAFTAR"),
    ("sertifikat halal", "KEMENAG-HALAL-REGULER"),
    ("daftar nikah", "KUA-NIKAH-DI-KUA"),
    ("buku nikah hilang", "KUA-DUPLIKAT-BUKU-NIKAH"),
    ("cerai gugat", "PA-CERAI-GUGAT"),
    ("isbat nikah", "PA-ISBAT-NIKAH"),
    ("dispensasi nikah", "PA-DISPENSASI-KAWIN"),
    ("surat tidak pernah dipidana", "PN-ERATERANG-PIDANA"),
    ("bayar tilang", "KEJARI-TILANG-BAYAR"),
    ("sktm", "KECAMATAN-SKTM"),
    ("surat ahli waris", "KECAMATAN-AHLI-WARIS"),
    ("kartu kuning", "DISNAKERTRANS-AK1"),
    ("uji kir", "DISHUB-UJI-KIR-PERTAMA"),
    ("tes urine", "BNNK-SKHPN"),
    ("pasang listrik", "PLN-PASANG-BARU-900"),
    ("pasang pdam", "PDAM-PASANG-BARU"),
    ("buka rekening", "BANKALTIMTARA-BUKA-TABUNGAN"),
    ("klaim tht taspen", "TASPEN-KLAIM-THT"),
    ("legalisir ijazah", "DISDIKBUD-LEGALISIR-IJAZAH"),
    ("kusuka", "DKP-KUSUKA"),
    ("izin penelitian", "KESBANGPOL-IZIN-PENELITIAN"),
    ("DUKCAPIL-AKTA-LAHIR", "DUKCAPIL-AKTA-LAHIR"),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_operator_queries_find_the_intended_service_first(
    index: SearchIndex, query: str, expected: str
) -> None:
    results = index.search(query, limit=5)
    assert results, f"no result for {query!r}"
    assert results[0][0].code == expected, [(s.code, score) for s, score in results]


def test_scores_descend_and_pages_do_not_overlap(index: SearchIndex) -> None:
    page1 = index.search("akta", limit=5)
    page2 = index.search("akta", limit=5, offset=5)
    scores = [score for _, score in page1 + page2]
    assert scores == sorted(scores, reverse=True)
    assert not {s.code for s, _ in page1} & {s.code for s, _ in page2}
    assert all(isinstance(s, ServiceType) for s, _ in page1)


def test_nothing_for_blank_gibberish_or_bad_paging(index: SearchIndex) -> None:
    assert index.search("") == []
    assert index.search("   ...  ") == []
    assert index.search("qwxzvbn") == []
    assert index.search("ktp", limit=0) == []
    assert index.search("ktp", offset=-1) == []


def test_search_is_deterministic(index: SearchIndex) -> None:
    assert index.search("surat keterangan", limit=20) == index.search("Surat  Keterangan!", limit=20)


def test_thousands_of_lookups_per_second(index: SearchIndex) -> None:
    queries = [q for q, _ in QUERIES] + [
        "surat keterangan usaha",
        "izin",
        "pajak",
        "ganti nama",
        "pensiun janda",
    ]
    for q in queries:  # warm the per-word cache the way a running service would be
        index.search(q)
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        for q in queries:
            index.search(q, limit=10)
    per_second = rounds * len(queries) / (time.perf_counter() - start)
    assert per_second > 2000, f"{per_second:.0f} lookups/s"


def test_cold_typo_lookups_are_fast_too(index: SearchIndex) -> None:
    start = time.perf_counter()
    for i in range(200):
        index.search(f"kelahran{i % 10} paspro{i}")  # new words each time: nothing cached
    assert time.perf_counter() - start < 2.0


# --- the building blocks -------------------------------------------------------------------------------------


def test_normalize_and_tokenize() -> None:
    assert normalize("Pencatatan Sipil Déwasa") == "pencatatan sipil dewasa"
    assert tokenize("KTP-el (Rp1.300)") == ["ktp", "el", "rp1300", "ktpel"]
    assert content_words("cara mengurus akta untuk anak") == ["akta", "anak"]
    assert content_words("buat") == ["buat"]


@pytest.mark.parametrize(
    ("word", "root"),
    [
        ("kelahiran", "lahir"),
        ("kematian", "mati"),
        ("perkawinan", "kawin"),
        ("perpanjangan", "panjang"),
        ("perpanjang", "panjang"),
        ("pendaftaran", "daftar"),
        ("pembuatan", "buat"),
        ("ktp", "ktp"),
        ("paspor", "paspor"),
    ],
)
def test_light_stemmer(word: str, root: str) -> None:
    assert stem(word) == root


@pytest.mark.parametrize(
    ("typed", "meant", "quality"),
    [
        ("pasporr", "paspor", FUZZY1),  # one insertion
        ("keluaga", "keluarga", FUZZY1),  # one deletion
        ("kelahran", "kelahiran", FUZZY1),
        ("atka", "akta", FUZZY1),  # a transposition is one edit
        ("nwpp", "npwp", FUZZY1),
        ("kalahran", "kelahiran", FUZZY2),  # two edits allowed from 7 letters
    ],
)
def test_typos_within_the_allowed_edits(index: SearchIndex, typed: str, meant: str, quality: float) -> None:
    assert dict(index.expand(typed)).get(meant) == quality


def test_short_words_are_not_fuzzy_matched(index: SearchIndex) -> None:
    assert index.typo_neighbours("sin") == []  # three letters: no edit allowed ("sim" is not meant)
    assert all(dist <= 1 for _, dist in index.typo_neighbours("pasor"))  # under 7 letters: one edit


def test_index_works_on_any_catalogue() -> None:
    """Nothing in the index is tied to Kukar: a two-service catalogue from elsewhere."""
    base = {
        "agency_code": "DINAS",
        "category": "non_perizinan",
        "channel": "local",
        "requirements": [{"name": "KTP-el", "form": "copy"}],
        "procedure": ["Serahkan berkas"],
        "completion": {"completion_days": 1, "clock_starts": "site"},
        "fee": {"amount": 0, "free": True, "legal_basis": "Perda"},
        "complaint": [{"kind": "desk", "value": "Loket"}],
        "effective_date": "2026-01-05",
    }
    services = [
        ServiceType.model_validate(
            {**base, "code": "DINAS-SURAT-DOMISILI", "name": "Surat Keterangan Domisili", "product": "Surat"}
        ),
        ServiceType.model_validate(
            {**base, "code": "DINAS-IZIN-KERAMAIAN", "name": "Izin Keramaian", "product": "Izin"}
        ),
    ]
    small = SearchIndex(services)
    assert small.search("domisli")[0][0].code == "DINAS-SURAT-DOMISILI"
    assert small.search("ijin keramaian")[0][0].code == "DINAS-IZIN-KERAMAIAN"
    assert SearchIndex([]).search("ktp") == []
