"""What ops watch, after real flows: a local and a central application are submitted and texted, then every
service's /metrics is scraped. The metrics the chart's alerts and dashboard stand on are there, with plausible
values, and no scrape carries a tracking code, a phone number or a NIK."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from mpp_devstack.platform import Platform
from tests.e2e.conftest import counter, provided_checklist

LOCAL = ("loa-kulu", "DUKCAPIL-AKTA-LAHIR", "0812-3456-7301", "+6281234567301")
CENTRAL = ("tabang", "IMIGRASI-PASPOR-BARU", "0813-5000-7302", "+6281350007302")
NIK = "6402024101900001"
SERVICES = ("catalog", "routing", "notify", "intake-loa-kulu", "intake-tabang", "intake-mpp-tenggarong")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(platform: Platform, service: str) -> tuple[str, set[str], Samples]:
    """The exposition text, the metric families it declares (even those without a sample yet) and its samples."""
    text = httpx.get(f"{platform.url(service)}/metrics", timeout=5).text
    families, samples = set(), {}
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, families, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (found, have), value in samples.items() if found == name and wanted <= have)


def series(samples: Samples, name: str, **labels: str) -> list[float]:
    wanted = set(labels.items())
    return [value for (found, have), value in samples.items() if found == name and wanted <= have]


def submit(platform: Platform, site: str, code: str, phone: str) -> str:
    answer = httpx.post(
        f"{platform.url('intake-' + site)}/applications",
        json={
            "service_code": code,
            "channel": "counter",
            "applicant": {"name": "Dewi Lestari", "nik": NIK, "phone": phone},
            "checklist": provided_checklist(platform, code),
        },
        headers=counter(platform, site),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    tracking: str = answer.json()["tracking_code"]
    return tracking


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout:.0f} s: {what}"
        time.sleep(0.5)


def test_every_service_exports_what_ops_watch_after_a_local_and_a_central_application(
    platform: Platform,
) -> None:
    tracking_codes = [submit(platform, site, code, phone) for site, code, phone, _ in (LOCAL, CENTRAL)]
    for *_, e164 in (LOCAL, CENTRAL):
        platform.wait_for_sms(e164)

    def delivered_twice() -> bool:  # the sandbox's delivery reports reach notify a moment after the send
        return total(scrape(platform, "notify")[2], "sms_status_changes_total", status="delivered") >= 2

    wait_until(delivered_twice, "notify records both SMS delivered")

    def outboxes_empty() -> bool:  # the relay refreshes its gauges every few seconds
        return all(series(scrape(platform, name)[2], "outbox_backlog") == [0.0] for name in SERVICES)

    wait_until(outboxes_empty, "every outbox published and its gauge refreshed")

    scraped = {name: scrape(platform, name) for name in SERVICES}
    for name, (text, families, samples) in scraped.items():
        # Every service: HTTP, broker, outbox, consumers (declared even before a first dead letter).
        for family in (
            "http_requests",
            "http_request_duration_seconds",
            "broker_reachable",
            "outbox_backlog",
            "outbox_oldest_age_seconds",
            "consumer_dead_letters",
        ):
            assert family in families, f"{name} does not export {family}"
        assert series(samples, "broker_reachable") == [1.0], name
        assert series(samples, "outbox_oldest_age_seconds") == [0.0], name
        assert total(samples, "http_request_duration_seconds_count", route="/readyz") >= 1, name
        assert all(value >= 0 for value in series(samples, "consumer_dead_letters_total")), name
        # Bounded labels: nothing of the applicants in any scrape.
        for secret in (*tracking_codes, NIK, LOCAL[3], CENTRAL[3], LOCAL[2], CENTRAL[2]):
            assert secret not in text, f"{name} exports {secret}"
        assert "/applications/track/" not in text.replace("/applications/track/{tracking_code}", "")

    for site, *_ in (LOCAL, CENTRAL):
        _, _, intake = scraped[f"intake-{site}"]
        assert total(intake, "intake_applications_submitted_total", site_id=site, channel="counter") >= 1
        assert total(intake, "http_request_duration_seconds_count", method="POST", route="/applications") >= 1
        assert total(intake, "http_requests_total", method="POST", route="/applications", status="201") >= 1
        assert total(intake, "outbox_published_total", topic="intake.application.v1") >= 1
        assert series(intake, "read_model_loaded", topic="catalog.service.v1") == [1.0]
        assert total(intake, "read_model_items", topic="catalog.service.v1") > 100  # Kukar has 464

    _, _, routing = scraped["routing"]
    assert total(routing, "routing_decisions_total", outcome="local", reason="offered_here") >= 1
    assert total(routing, "routing_decisions_total", outcome="central", reason="central_only") >= 1
    assert total(routing, "consumer_messages_total", consumer="routing", result="processed") >= 2
    assert series(routing, "consumer_lag", consumer="routing", topic="intake.application.v1")
    assert all(lag >= 0 for lag in series(routing, "consumer_lag"))
    assert total(routing, "outbox_published_total", topic="routing.decision.v1") >= 2
    assert total(routing, "outbox_published_total", topic="site.mpp-tenggarong.inbox.v1") >= 1
    free = series(routing, "routing_free_slots_next_7_days", site_id="mpp-tenggarong", agency_code="IMIGRASI")
    # Imigrasi serves Monday and Wednesday at the central MPP: some places in any week, none negative.
    assert len(free) == 1 and free[0] > 0, free
    assert all(value >= 0 for value in series(routing, "routing_free_slots_next_7_days"))

    _, _, notify = scraped["notify"]
    assert total(notify, "consumer_messages_total", consumer="notify-routing", result="processed") >= 2
    assert total(notify, "sms_provider_sends_total", outcome="accepted") >= 2
    assert total(notify, "sms_status_changes_total", status="created", provider="none") >= 2
    assert total(notify, "sms_status_changes_total", status="delivered") >= 2
    assert (
        total(notify, "sms_status_changes_total", status="delivered", provider="none") == 0
    )  # who delivered it
    assert total(notify, "outbox_published_total", topic="notify.sms.v1") >= 2
    assert "outbox_published" in scraped["catalog"][1]  # the seed was published at the platform's start
