"""The rate limits' client address: behind a trusted proxy (the web, the ingress), each client the proxy names in
X-Forwarded-For has a bucket of its own; a peer outside TRUSTED_PROXY_CIDRS is counted by its own address,
whatever header it sends."""

from __future__ import annotations

from collections import Counter

import httpx

from mpp_devstack.infra import Infra
from tests.intake.conftest import SERVICE, intake_settings, running_intake

APPLICANT = {"name": "Dewi Lestari", "nik": "6402024101900001", "phone": "0812-7000-4321"}
ONLINE = {"service_code": SERVICE, "channel": "online", "applicant": APPLICANT}
WEB_POD = "10.42.0.7"
STRANGER = "203.0.113.50"


async def test_clients_behind_a_trusted_proxy_get_their_own_buckets_and_nobody_else_picks_one(
    infra: Infra, database: str, silent_relay: None
) -> None:
    settings = intake_settings(
        infra,
        database,
        rate_limit_window_s=10**8,  # one window for the whole test
        rate_limit_submits=2,
        trusted_proxy_cidrs="10.42.0.0/16",
    )
    async with running_intake(settings) as intake:
        app = intake.app
        assert app is not None

        def peer(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://intake")

        async with peer(WEB_POD) as web, peer(STRANGER) as stranger:

            async def through_web(client_address: str) -> int:
                headers = {"X-Forwarded-For": client_address}
                return (await web.post("/applications", json=ONLINE, headers=headers)).status_code

            # Two people behind the web: two buckets of 2 each.
            first = [await through_web("198.51.100.1") for _ in range(3)]
            second = [await through_web("198.51.100.2") for _ in range(3)]
            assert (first, second) == ([201, 201, 429], [201, 201, 429])
            # A browser's own header reaches intake left of the address the web writes: it changes nothing.
            assert await through_web("198.51.100.3, 198.51.100.1") == 429

            # A stranger calling intake directly cannot pick a fresh bucket with the header...
            spoofed = [
                (
                    await stranger.post(
                        "/applications", json=ONLINE, headers={"X-Forwarded-For": f"192.0.2.{n}"}
                    )
                ).status_code
                for n in range(4)
            ]
            assert Counter(spoofed) == {201: 2, 429: 2}
            # ...nor spend someone else's: the first person behind the web is still counted as before, and
            # the stranger's own bucket is the one it filled.
            assert await through_web("198.51.100.4") == 201
            assert (await stranger.post("/applications", json=ONLINE)).status_code == 429


async def test_without_trusted_proxies_the_header_is_ignored(
    infra: Infra, database: str, silent_relay: None
) -> None:
    settings = intake_settings(infra, database, rate_limit_window_s=10**8, rate_limit_submits=1)
    async with running_intake(settings) as intake:
        assert intake.app is not None
        transport = httpx.ASGITransport(app=intake.app, client=(WEB_POD, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as web:
            answers = [
                (
                    await web.post(
                        "/applications", json=ONLINE, headers={"X-Forwarded-For": f"198.51.100.{n}"}
                    )
                ).status_code
                for n in range(3)
            ]
        assert answers == [201, 429, 429]
