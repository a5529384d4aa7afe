"""The standar pelayanan models: each rule rejects bad data with the field it concerns."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from catalog.domain import (
    Agency,
    AgencySchedule,
    Catalogue,
    Fee,
    Requirement,
    ServiceType,
    Site,
    cross_check,
)


def service(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": "DINAS-SURAT-A",
        "agency_code": "DINAS",
        "name": "Surat A",
        "category": "non_perizinan",
        "channel": "local",
        "requirements": [{"name": "KTP-el", "form": "copy"}],
        "procedure": ["Serahkan berkas", "Terima surat"],
        "completion": {"completion_days": 1, "clock_starts": "site"},
        "fee": {"amount": 0, "free": True, "legal_basis": "Perda 1/2020"},
        "product": "Surat A",
        "complaint": [{"kind": "desk", "value": "Meja pengaduan"}],
        "effective_date": "2026-01-05",
    }
    return {**base, **overrides}


def site(slug: str, kind: str = "mini", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "slug": slug,
        "kind": kind,
        "name": f"Site {slug}",
        "kemendagri_code": "99.01.01",
        "address": "Jalan 1",
        "timezone": "Asia/Makassar",
        "opening_hours": {
            "mon": {"opens": "08:00", "closes": "15:00"},
            "wed": {"opens": "08:00", "closes": "15:00"},
            "fri": {"opens": "08:00", "closes": "11:30"},
        },
    }
    return {**base, **overrides}


def schedule(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "agency_code": "DINAS",
        "site": "pusat",
        "days": ["mon", "wed"],
        "opens": "08:00",
        "closes": "12:00",
        "daily_quota": 30,
        "slot_minutes": 15,
        "counters": 2,
    }
    return {**base, **overrides}


def locs(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {".".join(str(p) for p in err["loc"]) for err in exc.value.errors()}


AGENCY = Agency(code="DINAS", name="Dinas Contoh", short_name="Dinas", kind="opd")


def test_a_valid_service_parses_with_defaults() -> None:
    svc = ServiceType.model_validate(service())
    assert svc.version == 1 and svc.effective_date == dt.date(2026, 1, 5) and svc.availability is None


@pytest.mark.parametrize(
    ("fee", "message"),
    [
        ({"amount": -1, "legal_basis": "x"}, "greater than or equal to 0"),
        ({"amount": 0, "legal_basis": "x"}, "requires free: true"),
        ({"amount": 5000, "free": True, "legal_basis": "x"}, "free: true requires amount 0"),
        ({"amount": 0, "free": True, "variable": True, "legal_basis": "x"}, "free: true requires amount 0"),
        ({"amount": 100}, "Field required"),
        ({"amount": "30.000", "legal_basis": "x"}, "valid integer"),
    ],
)
def test_fee_rules(fee: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Fee.model_validate(fee)


def test_fee_variants_that_are_valid() -> None:
    assert Fee(amount=0, free=True, legal_basis="UU 24/2013 Pasal 79A").free
    assert Fee(amount=30000, legal_basis="PP 76/2020").amount == 30000
    assert Fee(amount=0, variable=True, legal_basis="Perda pajak").variable


def test_requirement_form_must_be_original_copy_or_digital() -> None:
    with pytest.raises(ValidationError) as exc:
        Requirement.model_validate({"name": "KTP", "form": "scan"})
    assert locs(exc) == {"form"}


def test_central_only_needs_a_reason_and_a_central_clock() -> None:
    with pytest.raises(ValidationError, match="need a central_only_reason"):
        ServiceType.model_validate(
            service(channel="central_only", completion={"completion_days": 1, "clock_starts": "central"})
        )
    with pytest.raises(ValidationError, match="clock_starts: central"):
        ServiceType.model_validate(service(channel="central_only", central_only_reason="biometrics"))
    with pytest.raises(ValidationError, match="Input should be 'biometrics'"):
        ServiceType.model_validate(
            service(
                channel="central_only",
                central_only_reason="weather",
                completion={"completion_days": 1, "clock_starts": "central"},
            )
        )
    ok = ServiceType.model_validate(
        service(
            channel="central_only",
            central_only_reason="court",
            completion={"completion_days": 0, "clock_starts": "central"},
        )
    )
    assert ok.central_only_reason == "court"


def test_a_reason_without_central_only_is_rejected() -> None:
    with pytest.raises(ValidationError, match="only allowed with channel central_only"):
        ServiceType.model_validate(service(central_only_reason="biometrics"))


@pytest.mark.parametrize("code", ["dinas-surat", "DINAS", "DINAS--X", "DINAS-SURAT_A", "DINAS-" + "X" * 50])
def test_service_codes_are_checked(code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        ServiceType.model_validate(service(code=code))
    assert "code" in locs(exc)


def test_service_code_must_start_with_its_agency() -> None:
    with pytest.raises(ValidationError, match="must start with its agency code") as exc:
        ServiceType.model_validate(service(code="LAIN-SURAT-A"))
    assert locs(exc) == {"agency_code"}


def test_channel_rule_errors_carry_the_field_path() -> None:
    with pytest.raises(ValidationError) as exc:
        ServiceType.model_validate(service(channel="central_only"))
    assert locs(exc) == {"central_only_reason", "completion"}


def test_unknown_fields_and_missing_components_are_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        ServiceType.model_validate(service(biaya=0))
    assert locs(exc) == {"biaya"}
    with pytest.raises(ValidationError) as exc:
        ServiceType.model_validate(service(requirements=[], procedure=[]))
    assert locs(exc) == {"requirements", "procedure"}
    with pytest.raises(ValidationError) as exc:
        ServiceType.model_validate({k: v for k, v in service().items() if k not in ("product", "complaint")})
    assert locs(exc) == {"product", "complaint"}


@pytest.mark.parametrize("slug", ["Loa-Kulu", "loa_kulu", "-tabang", "tabang-", "a" * 41, ""])
def test_site_slugs_are_dns_safe(slug: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Site.model_validate(site(slug))
    assert "slug" in locs(exc)


def test_site_codes_hours_and_time_zone_are_checked() -> None:
    with pytest.raises(ValidationError, match="kecamatan level"):
        Site.model_validate(site("a", kemendagri_code="64.02"))
    with pytest.raises(ValidationError) as exc:
        Site.model_validate(site("a", kemendagri_code="64-02-06"))
    assert locs(exc) == {"kemendagri_code"}
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        Site.model_validate(site("a", timezone="Asia/Tenggarong"))
    # An unquoted 12:00 reaches us from YAML as the integer 720.
    with pytest.raises(ValidationError, match="quoted 24-hour time"):
        Site.model_validate(site("a", opening_hours={"mon": {"opens": "08:00", "closes": 720}}))
    with pytest.raises(ValidationError, match="must be before closes"):
        Site.model_validate(site("a", opening_hours={"mon": {"opens": "15:00", "closes": "08:00"}}))
    with pytest.raises(ValidationError, match="at least one weekday"):
        Site.model_validate(site("a", opening_hours={}))


def test_schedule_capacity_must_cover_the_daily_quota() -> None:
    assert AgencySchedule.model_validate(schedule()).hours.minutes == 240
    with pytest.raises(ValidationError, match="exceeds the 16 slots"):
        AgencySchedule.model_validate(schedule(counters=1))
    with pytest.raises(ValidationError, match="duplicate entry 'mon'"):
        AgencySchedule.model_validate(schedule(days=["mon", "mon"]))
    with pytest.raises(ValidationError, match="must be before closes"):
        AgencySchedule.model_validate(schedule(opens="12:00", closes="08:00"))


def build(
    services: list[dict[str, Any]],
    schedules: list[dict[str, Any]] | None = None,
    sites: list[dict[str, Any]] | None = None,
) -> Catalogue:
    return Catalogue.model_validate(
        {
            "agencies": [AGENCY.model_dump()],
            "services": services,
            "sites": sites
            if sites is not None
            else [site("pusat", "central"), site("desa-a"), site("desa-b")],
            "schedules": schedules or [],
        }
    )


def test_catalogue_cross_references() -> None:
    with pytest.raises(
        ValidationError, match=r"services\[1\] \(DINAS-SURAT-A\): code: duplicate of services\[0\]"
    ):
        build([service(), service()])
    with pytest.raises(
        ValidationError, match=r"services\[0\] \(LAIN-X\): agency_code: unknown agency 'LAIN'"
    ):
        build([service(code="LAIN-X", agency_code="LAIN")])
    with pytest.raises(
        ValidationError, match=r"schedules\[0\] \(DINAS@nowhere\): site: unknown site 'nowhere'"
    ):
        build([service()], [schedule(site="nowhere")])
    with pytest.raises(ValidationError, match="is closed on tue"):
        build([service()], [schedule(days=["tue"])])
    with pytest.raises(ValidationError, match="outside the site's hours"):
        build([service()], [schedule(days=["fri"])])
    with pytest.raises(ValidationError, match="unknown service 'DINAS-Z'"):
        build([service()], [schedule(services=["DINAS-Z"])])
    with pytest.raises(ValidationError, match="no central site"):
        build([service()], sites=[site("desa-a")])
    with pytest.raises(ValidationError, match="central_only service offered at mini site 'desa-a'"):
        build(
            [
                service(
                    channel="central_only",
                    central_only_reason="biometrics",
                    completion={"completion_days": 1, "clock_starts": "central"},
                    availability={"sites": ["desa-a"]},
                )
            ]
        )


def test_cross_check_returns_every_issue() -> None:
    svc = ServiceType.model_validate(
        service(code="LAIN-X", agency_code="LAIN", availability={"exclude_sites": ["nope"]})
    )
    issues = cross_check([AGENCY], [svc], [], [])
    assert {(i.collection, i.field) for i in issues} == {
        ("services", "agency_code"),
        ("services", "availability.exclude_sites"),
        ("sites", "kind"),
    }


def test_services_at_follows_channel_and_availability() -> None:
    central = {
        "channel": "central_only",
        "central_only_reason": "biometrics",
        "completion": {"completion_days": 1, "clock_starts": "central"},
    }
    cat = build(
        [
            service(code="DINAS-LOKAL"),
            service(code="DINAS-PUSAT", **central),
            service(code="DINAS-MINI", availability={"kinds": ["mini"]}),
            service(code="DINAS-HANYA-A", availability={"sites": ["desa-a"]}),
            service(code="DINAS-BUKAN-B", availability={"exclude_sites": ["desa-b"]}),
            service(code="DINAS-KANTOR", availability={"sites": []}),
        ]
    )
    codes = {slug: {s.code for s in cat.services_at(slug)} for slug in ("pusat", "desa-a", "desa-b")}
    assert codes["pusat"] == {"DINAS-LOKAL", "DINAS-PUSAT", "DINAS-BUKAN-B"}
    assert codes["desa-a"] == {"DINAS-LOKAL", "DINAS-MINI", "DINAS-HANYA-A", "DINAS-BUKAN-B"}
    assert codes["desa-b"] == {"DINAS-LOKAL", "DINAS-MINI"}
    by_code = {s.code: s for s in cat.services}
    assert cat.sites_offering(by_code["DINAS-KANTOR"]) == []
    assert [s.slug for s in cat.sites_offering(by_code["DINAS-PUSAT"])] == ["pusat"]
    with pytest.raises(KeyError):
        cat.services_at("atlantis")


def test_schedules_for_filters_by_site_and_service() -> None:
    cat = build(
        [service(), service(code="DINAS-SURAT-B")],
        [
            schedule(),
            schedule(days=["fri"], opens="08:00", closes="11:00", daily_quota=10, services=["DINAS-SURAT-B"]),
        ],
    )
    assert len(cat.schedules_for("DINAS", "pusat")) == 2
    assert len(cat.schedules_for("DINAS", "pusat", "DINAS-SURAT-A")) == 1
    assert cat.schedules_for("DINAS", "desa-a") == []
