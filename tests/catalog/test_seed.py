"""The packaged Kukar data set loads, meets the issue's counts, and bad data is refused with file, item and field."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from catalog.domain import Catalogue, ServiceType
from catalog.seed import DEFAULT_DATA_DIR, CatalogueError, load_catalogue, main


@pytest.fixture(scope="module")
def kukar() -> Catalogue:
    return load_catalogue(DEFAULT_DATA_DIR)


def service_of(catalogue: Catalogue, code: str) -> ServiceType:
    return next(s for s in catalogue.services if s.code == code)


def test_counts_meet_the_issue(kukar: Catalogue) -> None:
    assert len(kukar.services) >= 400
    assert len(kukar.agencies) >= 25
    assert len(kukar.sites) == 21
    assert Counter(s.kind for s in kukar.sites) == {"central": 1, "mini": 20}
    assert {s.agency_code for s in kukar.services} == {a.code for a in kukar.agencies}, (
        "every agency offers something"
    )
    channels = Counter(s.channel for s in kukar.services)
    assert set(channels) == {"local", "assisted", "central_only"}


def test_every_service_has_the_six_service_delivery_components(kukar: Catalogue) -> None:
    for svc in kukar.services:
        assert svc.requirements and all(
            r.form in ("original", "copy", "digital") for r in svc.requirements
        ), svc.code
        assert svc.procedure and svc.product and svc.complaint, svc.code
        assert svc.completion.completion_days >= 0 and svc.completion.clock_starts in ("site", "central"), (
            svc.code
        )
        assert svc.fee.legal_basis and (svc.fee.free == (svc.fee.amount == 0 and not svc.fee.variable)), (
            svc.code
        )
        assert svc.aliases and svc.keywords, svc.code
        assert svc.version >= 1 and svc.effective_date.year >= 2025, svc.code


def test_names_and_aliases_are_distinct(kukar: Catalogue) -> None:
    names = Counter(s.name.lower() for s in kukar.services)
    assert [n for n, k in names.items() if k > 1] == []
    aliases = Counter(a.lower() for s in kukar.services for a in s.aliases)
    assert [a for a, k in aliases.items() if k > 1] == [], (
        "an alias naming two services makes search ambiguous"
    )


def test_sites_are_the_central_mpp_and_one_mini_mpp_per_kecamatan(kukar: Catalogue) -> None:
    central = kukar.site("mpp-tenggarong")
    assert central.kind == "central" and central.kemendagri_code == "64.02.06"
    minis = [s for s in kukar.sites if s.kind == "mini"]
    assert sorted(s.kemendagri_code for s in minis) == [f"64.02.{n:02d}" for n in range(1, 21)]
    for slug in (
        "loa-kulu",
        "kota-bangun-darat",
        "sanga-sanga",
        "marang-kayu",
        "tenggarong",
        "samboja-barat",
        "tabang",
    ):
        assert kukar.site(slug).kind == "mini"
    assert kukar.site("loa-kulu").name == "Mini MPP Kecamatan Loa Kulu"
    assert kukar.site("loa-kulu").address.startswith("Kantor Camat Loa Kulu")
    for s in kukar.sites:
        assert s.timezone == "Asia/Makassar"
        fri = s.opening_hours.on("fri")
        assert fri is not None and s.opening_hours.on("sun") is None


def test_central_only_services_are_offered_only_at_the_central_mpp(kukar: Catalogue) -> None:
    central_codes = {s.code for s in kukar.services_at("mpp-tenggarong")}
    tabang = {s.code for s in kukar.services_at("tabang")}
    for svc in kukar.services:
        if svc.channel == "central_only":
            assert svc.code not in tabang
            assert svc.code in central_codes or (svc.availability and svc.availability.sites == [])
    assert "DUKCAPIL-AKTA-LAHIR" in tabang and "DUKCAPIL-AKTA-LAHIR" in central_codes
    assert "KECAMATAN-SKTM" in tabang and "KECAMATAN-SKTM" not in central_codes
    assert kukar.sites_offering(service_of(kukar, "IMIGRASI-PASPOR-HILANG")) == [], (
        "lost passports: Kanim Samarinda only"
    )


def test_key_standards_from_the_sources(kukar: Catalogue) -> None:
    passport = service_of(kukar, "IMIGRASI-PASPOR-BARU")
    assert passport.channel == "central_only" and passport.central_only_reason == "biometrics"
    assert passport.fee.amount == 350_000 and "PP 28/2019" in passport.fee.legal_basis
    assert service_of(kukar, "POLRES-SKCK-BARU").fee.amount == 30_000
    assert service_of(kukar, "POLRES-SIM-A-BARU").fee.amount == 120_000
    assert service_of(kukar, "POLRES-SIM-C-BARU").fee.amount == 100_000
    assert service_of(kukar, "POLRES-SIM-A-BARU").central_only_reason == "physical_inspection"
    assert service_of(kukar, "DUKCAPIL-KTP-EL-BARU").central_only_reason == "biometrics"
    assert service_of(kukar, "PA-CERAI-GUGAT").central_only_reason == "court"
    for svc in kukar.services:
        if svc.agency_code == "DUKCAPIL":
            assert svc.fee.free and "79A" in svc.fee.legal_basis
    assert service_of(kukar, "DPMPTSP-NIB-UMK").online is not None


def test_imigrasi_schedule_at_the_central_mpp(kukar: Catalogue) -> None:
    (imigrasi,) = kukar.schedules_for("IMIGRASI", "mpp-tenggarong")
    assert imigrasi.days == ["mon", "wed"] and imigrasi.daily_quota == 30
    assert (f"{imigrasi.opens:%H:%M}", f"{imigrasi.closes:%H:%M}") == ("08:00", "12:00")
    assert kukar.schedules_for("DUKCAPIL", "mpp-tenggarong", "DUKCAPIL-KTP-EL-BARU")
    assert kukar.schedules_for("POLRES", "mpp-tenggarong")


def test_variants_and_list_appends_expand(kukar: Catalogue) -> None:
    sim = {s.code: s for s in kukar.services if s.code.startswith("POLRES-SIM-") and s.code.endswith("-BARU")}
    assert {"POLRES-SIM-A-BARU", "POLRES-SIM-BI-BARU", "POLRES-SIM-C-BARU", "POLRES-SIM-D-BARU"} <= set(sim)
    assert sim["POLRES-SIM-BI-BARU"].name == "Penerbitan SIM B I Baru"
    renewal = service_of(kukar, "IMIGRASI-PASPOR-PENGGANTIAN")
    assert [r.name for r in renewal.requirements][-1] == "Paspor lama" and len(renewal.requirements) == 4


def test_the_catalogue_round_trips_through_json(kukar: Catalogue) -> None:
    text = kukar.model_dump_json()
    assert '"opens":"08:00"' in text
    assert Catalogue.model_validate_json(text) == kukar


def test_cli_prints_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "agencies: " in out and "service types: " in out and "sites: 21 (central 1, mini 20)" in out
    assert "schedules: " in out


# --- invalid data ------------------------------------------------------------------------------------------


@pytest.fixture
def data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {path.name}: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(path: Path) -> list[str]:
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(path)
    return exc.value.problems


def test_negative_fee_names_file_item_and_field(data: Path) -> None:
    edit(
        data / "services/polres.yaml",
        'fee: {amount: 30000, legal_basis: "PP 76/2020, penerbitan SKCK"}',
        "fee: {amount: -30000, legal_basis: x}",
    )
    (problem,) = problems(data)
    assert problem.startswith("services/polres.yaml: services[")
    assert "(POLRES-SKCK-BARU): fee.amount: Input should be greater than or equal to 0" in problem


def test_central_only_without_reason_is_refused(data: Path) -> None:
    edit(
        data / "services/dukcapil.yaml",
        "    central_only_reason: biometrics\n    procedure: *central_procedure",
        "    procedure: *central_procedure",
    )
    (problem,) = problems(data)
    assert problem == (
        "services/dukcapil.yaml: services[5] (DUKCAPIL-KTP-EL-BARU): central_only_reason: "
        "central_only services need a central_only_reason"
    )


def test_unknown_agency_is_refused(data: Path) -> None:
    edit(data / "agencies.yaml", "code: KESBANGPOL", "code: KESBANG")
    found = problems(data)
    assert len(found) == 3 and all(p.startswith("services/opd.yaml: services[12].variants[") for p in found)
    assert any(
        p.endswith("(KESBANGPOL-IZIN-PENELITIAN): agency_code: unknown agency 'KESBANGPOL'") for p in found
    )


def test_duplicate_code_is_refused(data: Path) -> None:
    edit(data / "services/bpn.yaml", "code: BPN-ROYA", "code: BPN-PENGECEKAN")
    (problem,) = problems(data)
    assert problem.startswith("services/bpn.yaml: services[4] (BPN-PENGECEKAN): code: duplicate of services[")


def test_a_service_code_outside_its_agency_is_refused(data: Path) -> None:
    edit(data / "services/kpp.yaml", "code: KPP-SKF", "code: DJP-SKF")
    (problem,) = problems(data)
    assert problem == (
        "services/kpp.yaml: services[11] (DJP-SKF): agency_code: "
        "service code 'DJP-SKF' must start with its agency code 'KPP-'"
    )


def test_variant_errors_name_the_variant(data: Path) -> None:
    edit(
        data / "services/polres.yaml",
        "vars: {gol: C, kend: sepeda motor sampai 250 cc",
        "vars: {gol: C, kend: sepeda motor, sampai 250 cc",
    )
    (problem,) = problems(data)
    assert problem.startswith("services/polres.yaml: services[0].variants[3]: vars: sampai 250 cc")


def test_schedule_over_capacity_is_refused(data: Path) -> None:
    edit(data / "sites.yaml", "    daily_quota: 30\n", "    daily_quota: 300\n")
    (problem,) = problems(data)
    assert problem == (
        "sites.yaml: schedules[0] (IMIGRASI@mpp-tenggarong): (entry): daily_quota 300 exceeds the 32 slots of"
        " 15 minutes x 2 counter(s) between 08:00 and 12:00"
    )


def test_schedule_at_an_unknown_site_or_outside_hours_is_refused(data: Path) -> None:
    edit(
        data / "sites.yaml",
        "  - agency_code: BNNK\n    site: mpp-tenggarong",
        "  - agency_code: BNNK\n    site: atlantis",
    )
    edit(
        data / "sites.yaml", '    days: [wed]\n    opens: "09:00"', '    days: [wed, sat]\n    opens: "09:00"'
    )
    assert problems(data) == [
        "sites.yaml: schedules[10] (BPOM@mpp-tenggarong): days: site 'mpp-tenggarong' is closed on sat",
        "sites.yaml: schedules[11] (BNNK@atlantis): site: unknown site 'atlantis'",
    ]


def test_unquoted_time_and_bad_slug(data: Path) -> None:
    edit(data / "sites.yaml", 'closes: "12:00"', "closes: 12:00")
    edit(data / "sites.yaml", "slug: loa-kulu", "slug: Loa_Kulu")
    found = problems(data)
    assert any("sites.yaml: sites[2] (Loa_Kulu): slug: " in p and "DNS-safe slug" in p for p in found)
    assert any(
        "sites.yaml: schedules[0] (IMIGRASI@mpp-tenggarong): closes: " in p and "quoted" in p for p in found
    )


def test_broken_yaml_and_unknown_keys(data: Path) -> None:
    (data / "services/zz-broken.yaml").write_text("services: [ {code: X\n", encoding="utf-8")
    (data / "services/zz-extra.yaml").write_text("servicez: []\n", encoding="utf-8")
    found = problems(data)
    assert any(p.startswith("services/zz-broken.yaml: not valid YAML") for p in found)
    assert "services/zz-extra.yaml: unknown top-level key 'servicez' (allowed: defaults, services)" in found
    assert "services/zz-extra.yaml: missing top-level key 'services'" in found


def test_missing_directory_and_files(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope") == [f"{tmp_path / 'nope'}: not a directory"]
    found = problems(tmp_path)
    assert "agencies.yaml: file not found" in found and "sites.yaml: file not found" in found


def test_cli_exits_non_zero_with_the_problems(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(data / "agencies.yaml", "code: BPOM", "code: bpom")
    assert main(["--data", str(data)]) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert f"invalid catalogue data in {data}" in err
    assert "agencies.yaml: agencies[30] (bpom): code: 'bpom' is not a valid agency code" in err
    assert captured.out == ""


def test_another_kabupaten_is_a_data_change(tmp_path: Path) -> None:
    """A minimal other data set: the code has nothing Kukar-specific."""
    (tmp_path / "services").mkdir()
    (tmp_path / "agencies.yaml").write_text(
        "agencies:\n  - {code: DUKCAPIL, name: Disdukcapil Kabupaten Lain, short_name: Dukcapil, kind: opd}\n",
        encoding="utf-8",
    )
    (tmp_path / "sites.yaml").write_text(
        """defaults:
  kind: mini
  timezone: Asia/Jakarta
  opening_hours: {mon: {opens: "07:30", closes: "16:00"}}
sites:
  - {slug: mpp-kota, kind: central, name: MPP Kota, kemendagri_code: "33.01.01", address: Jalan Utama 1}
  - {slug: desa-satu, name: Mini MPP Satu, kemendagri_code: "33.01.02", address: Kantor Camat Satu}
""",
        encoding="utf-8",
    )
    (tmp_path / "services" / "a.yaml").write_text(
        """defaults:
  agency_code: DUKCAPIL
  category: non_perizinan
  channel: assisted
  procedure: [Serahkan berkas]
  completion: {completion_days: 1, clock_starts: site}
  fee: {amount: 0, free: true, legal_basis: UU 24/2013 Pasal 79A}
  complaint: [{kind: desk, value: Loket}]
  effective_date: 2026-02-01
  requirements: [{name: KTP-el, form: copy}]
services:
  - product: ${doc}
    name: Penerbitan ${doc}
    variants:
      - {code: DUKCAPIL-KK, vars: {doc: Kartu Keluarga}, +requirements: [{name: Formulir F-1.01, form: original}]}
      - {code: DUKCAPIL-AKTA, vars: {doc: Akta Kelahiran}}
""",
        encoding="utf-8",
    )
    cat = load_catalogue(tmp_path)
    assert [s.name for s in cat.services] == ["Penerbitan Kartu Keluarga", "Penerbitan Akta Kelahiran"]
    assert [r.name for r in service_of(cat, "DUKCAPIL-KK").requirements] == ["KTP-el", "Formulir F-1.01"]
    assert len(cat.services_at("desa-satu")) == 2
