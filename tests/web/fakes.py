"""Fakes of the catalogue and of each site's intake, answering over an httpx transport as the real ones do over
HTTP (same paths, same answers and error format), so the web's pages are tested without the platform.

The fake intake checks the console's signed token with the kit's verifier, as intake does (a counter submit needs
one of its own site: 401 without, 403 with another site's), and shows an operator only their own site's
applications (another site's are 404). An online application waits for the six-digit code "texted" to its phone
(`sms`: phone -> code) at POST /applications/{id}/verify. Tracking is POST /applications/track (the old GET is
410). `limited` makes an anonymous endpoint (`submit`, `verify`, `track`) answer 429 with that Retry-After;
`forwarded_for` records the X-Forwarded-For of each anonymous call."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from mpp_kit.auth import SignedTokenVerifier

SITES = [
    {
        "slug": "mpp-tenggarong",
        "kind": "central",
        "name": "MPP Kabupaten Kutai Kartanegara",
        "timezone": "Asia/Makassar",
        "address": "Tenggarong",
    },
    {
        "slug": "loa-kulu",
        "kind": "mini",
        "name": "Mini MPP Kecamatan Loa Kulu",
        "timezone": "Asia/Makassar",
        "address": "Loa Kulu",
    },
    {
        "slug": "tabang",
        "kind": "mini",
        "name": "Mini MPP Kecamatan Tabang",
        "timezone": "Asia/Makassar",
        "address": "Tabang",
    },
]


def _service(code: str, name: str, channel: str, sites: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "agency_code": code.split("-")[0],
        "name": name,
        "category": "non_perizinan",
        "aliases": [],
        "keywords": [],
        "description": None,
        "channel": channel,
        "central_only_reason": "biometrics" if channel == "central_only" else None,
        "requirements": [
            {"name": "KTP-el", "form": "original", "quantity": 1, "optional": False, "note": None},
            {"name": "Kartu Keluarga", "form": "copy", "quantity": 1, "optional": False, "note": None},
            {"name": "Pas foto", "form": "digital", "quantity": 1, "optional": True, "note": None},
        ],
        "procedure": ["Pemohon datang ke loket", "Petugas memeriksa berkas", "Dokumen diserahkan"],
        "completion": {"completion_days": 3, "clock_starts": "site", "note": None},
        "fee": {
            "amount": 0,
            "free": True,
            "variable": False,
            "legal_basis": "UU 24/2013 Pasal 79A",
            "note": None,
        },
        "product": "Dokumen",
        "complaint": [{"kind": "desk", "value": "Meja pengaduan MPP"}],
        "legal_basis": ["UU 24/2013 tentang Administrasi Kependudukan"],
        "sites": sites,
        **extra,
    }


SERVICES = {
    "DUKCAPIL-AKTA-LAHIR": _service(
        "DUKCAPIL-AKTA-LAHIR", "Penerbitan Akta Kelahiran", "local", ["mpp-tenggarong", "loa-kulu", "tabang"]
    ),
    "IMIGRASI-PASPOR-BARU": _service(
        "IMIGRASI-PASPOR-BARU",
        "Penerbitan Paspor Biasa Baru 48 Halaman",
        "central_only",
        ["mpp-tenggarong"],
        fee={"amount": 350000, "free": False, "variable": False, "legal_basis": "PP 28/2019", "note": None},
    ),
}
WORDS = {
    "DUKCAPIL-AKTA-LAHIR": ("akta", "lahir", "kelahiran"),
    "IMIGRASI-PASPOR-BARU": ("paspor", "passport"),
}
NIK_RE = re.compile(r"^[0-9]{16}$")


def _error(status: int, code: str, fields: list[dict[str, str]] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": code, "fields": fields or []}})


class FakeCatalog:
    def __init__(self) -> None:
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503, json={"error": {"code": "down", "message": "down", "fields": []}})
        path = request.url.path
        if path == "/sites":
            return httpx.Response(200, json=SITES)
        if path == "/services":
            q = request.url.params.get("q", "").lower()
            site = request.url.params.get("site")
            found = [
                s
                for code, s in SERVICES.items()
                if (not q or any(w in q for w in WORDS[code])) and (site is None or site in s["sites"])
            ]
            items = [
                {
                    "code": s["code"],
                    "name": s["name"],
                    "agency_code": s["agency_code"],
                    "channel": s["channel"],
                    "central_only_reason": s["central_only_reason"],
                    "completion_days": 3,
                    "fee": s["fee"]["amount"],
                    "free": s["fee"]["free"],
                    "sites": len(s["sites"]),
                    "score": None,
                }
                for s in found
            ]
            return httpx.Response(200, json={"items": items, "total": len(items), "limit": 20, "offset": 0})
        if path.startswith("/services/"):
            service = SERVICES.get(path.removeprefix("/services/"))
            return httpx.Response(200, json=service) if service else _error(404, "not_found")
        return _error(404, "not_found")


@dataclass
class FakeIntake:
    site: str
    verifier: SignedTokenVerifier
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> application id
    submits: int = 0
    calls: list[tuple[str, str]] = field(default_factory=list)
    sms: dict[str, str] = field(default_factory=dict)  # phone as typed -> the latest verification code
    verifications: dict[str, dict[str, Any]] = field(default_factory=dict)  # application id -> code, attempts
    max_attempts: int = 3
    limited: dict[str, int] = field(default_factory=dict)  # endpoint -> Retry-After seconds
    forwarded_for: list[str | None] = field(default_factory=list)

    def operator_site(self, request: httpx.Request) -> str | None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        claims = self.verifier.claims(given)
        return str(claims["site"]) if claims else None

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        self.calls.append((method, path))
        if method == "GET" and path.startswith("/applications/track/"):
            return _error(410, "gone")
        anonymous = {
            ("POST", "/applications"): "submit",
            ("POST", "/applications/track"): "track",
        }.get((method, path)) or ("verify" if method == "POST" and path.endswith("/verify") else None)
        if anonymous:
            self.forwarded_for.append(request.headers.get("x-forwarded-for"))
            if anonymous in self.limited and not (anonymous == "submit" and self.operator_site(request)):
                return httpx.Response(
                    429,
                    json={"error": {"code": "rate_limited", "message": "slow down", "fields": []}},
                    headers={"Retry-After": str(self.limited[anonymous])},
                )
        if anonymous == "submit":
            return self.submit(request)
        if anonymous == "track":
            body = json.loads(request.content)
            return self.track(body["tracking_code"], body["phone_last4"])
        if anonymous == "verify":
            return self.verify(path.removeprefix("/applications/").removesuffix("/verify"), request)
        site = self.operator_site(request)
        if site is None:
            return _error(401, "unauthorized")
        mine = {k: a for k, a in self.applications.items() if a["site_id"] == site}
        if method == "GET" and path in ("/queue", "/arrivals", "/search", "/pickups"):
            return httpx.Response(200, json=[self.summary(a) for a in self.listed(path, mine, request)])
        match = re.fullmatch(r"/applications/([0-9a-f-]{36})(/[a-z-]+)?", path)
        if not match or match.group(1) not in mine:
            return _error(404, "not_found")
        application = mine[match.group(1)]
        action = match.group(2)
        if action is None and method == "GET":
            return httpx.Response(200, json=application)
        body = json.loads(request.content or b"null") or {}
        return self.act(application, action or "", body)

    def listed(
        self, path: str, mine: dict[str, dict[str, Any]], request: httpx.Request
    ) -> list[dict[str, Any]]:
        rows = list(mine.values())
        if path == "/arrivals":
            return [a for a in rows if a["status"] in ("expected", "checked_in")]
        if path == "/pickups":
            return [a for a in rows if a["status"] == "ready_for_pickup"]
        if path == "/search":
            q = request.url.params.get("q", "").lower()
            return [a for a in rows if q in a["applicant_name"].lower() or q == a["tracking_code"].lower()]
        status = request.url.params.get("status")
        return [a for a in rows if status is None or a["status"] == status]

    def act(self, application: dict[str, Any], action: str, body: dict[str, Any]) -> httpx.Response:
        moves = {
            "/status": body.get("status"),
            "/ready": "ready_for_pickup",
            "/check-in": "checked_in",
            "/cancel": "cancelled",
        }
        if action == "/reschedule":
            return httpx.Response(
                202,
                json={"application_id": application["application_id"], "change": "reschedule", "status": "x"},
            )
        target = moves.get(action)
        if target is None:
            return _error(404, "not_found")
        if target == application["status"] or application["status"] in ("completed", "cancelled"):
            return _error(409, "conflict")
        self.move(application, target, body.get("note") or body.get("reason"))
        return httpx.Response(200, json=application)

    def move(self, application: dict[str, Any], status: str, note: str | None = None) -> None:
        now = datetime.now(UTC).isoformat()
        application["history"].append(
            {
                "status": status,
                "previous_status": application["status"],
                "note": note,
                "changed_by": "tester",
                "changed_at": now,
            }
        )
        application["status"], application["updated_at"] = status, now

    def submit(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key", "")
        if key in self.keys:
            return httpx.Response(201, json=self.accepted(self.applications[self.keys[key]]))
        body = json.loads(request.content)
        if body["channel"] != "online":
            site = self.operator_site(request)
            if site is None:
                return _error(401, "unauthorized")
            if site != self.site:
                return _error(403, "forbidden")
        problems = []
        if not NIK_RE.match(body["applicant"]["nik"]) or body["applicant"]["nik"].startswith("00"):
            problems.append({"field": "applicant.nik", "reason": "does not start with a valid province code"})
        missing = [
            c["requirement"]
            for c in body.get("checklist", [])
            if not c["provided"] and c["requirement"] in ("KTP-el", "Kartu Keluarga")
        ]
        if missing and not body.get("accept_incomplete"):
            problems += [{"field": "checklist", "reason": f"missing: {m}"} for m in missing]
        if problems:
            return _error(422, "validation_failed", problems)
        self.submits += 1
        application_id = str(uuid.uuid4())
        service = SERVICES[body["service_code"]]
        now = datetime.now(UTC)
        forwarded = service["channel"] == "central_only"
        application = {
            "application_id": application_id,
            "tracking_code": f"TRK{self.submits}-{self.site[:4].upper()}".replace("-", "")[:4]
            + "-"
            + uuid.uuid4().hex[:4].upper(),
            "site_id": self.site,
            "origin_site_id": None,
            "service_code": service["code"],
            "service_name": service["name"],
            "agency_code": service["agency_code"],
            "channel": body["channel"],
            "status": "incomplete" if missing else "submitted",
            "applicant_name": body["applicant"]["name"],
            "nik_last4": body["applicant"]["nik"][-4:],
            "phone_last4": re.sub(r"\D", "", body["applicant"]["phone"])[-4:],
            "queue_ticket": None if body["channel"] == "online" else f"DUK-{self.submits:03d}",
            "sms_consent": body.get("sms_consent", True),
            "appointment": {
                "site_id": "mpp-tenggarong",
                "site_name": "MPP Kukar",
                "starts_at": (now + timedelta(days=2)).replace(hour=1, minute=30).isoformat(),
                "bring": ["KTP-el asli"],
            }
            if forwarded
            else None,
            "missing": missing,
            "submitted_at": now.isoformat(),
            "updated_at": now.isoformat(),
            "history": [],
            "phone": body["applicant"]["phone"],
        }
        self.applications[application_id] = application
        self.keys[key] = application_id
        if body["channel"] == "online":  # nothing happens before the phone is verified
            application["status"] = "awaiting_verification"
            code = f"{uuid.uuid4().int % 1_000_000:06d}"
            self.verifications[application_id] = {"code": code, "attempts": 0, "expired": False}
            self.sms[body["applicant"]["phone"]] = code
        else:
            self.received(application)
        return httpx.Response(201, json=self.accepted(application))

    def received(self, application: dict[str, Any]) -> None:
        self.move(application, "incomplete" if application["missing"] else "submitted")
        if SERVICES[application["service_code"]]["channel"] == "central_only":
            self.move(application, "forwarded")

    def verify(self, application_id: str, request: httpx.Request) -> httpx.Response:
        pending = self.verifications.get(application_id)
        if pending is None:
            return _error(404, "not_found")
        right = json.loads(request.content)["code"] == pending["code"]
        application = self.applications[application_id]
        if application["status"] != "awaiting_verification":
            if right:
                return httpx.Response(200, json=self.accepted(application))
            return _error(409, "already_verified", [{"field": "code", "reason": "invalid"}])
        if pending["attempts"] >= self.max_attempts:
            return _error(409, "verification_locked", [{"field": "code", "reason": "locked"}])
        if pending["expired"]:
            return _error(409, "verification_expired", [{"field": "code", "reason": "expired"}])
        if not right:
            pending["attempts"] += 1
            left = self.max_attempts - pending["attempts"]
            return _error(
                422, "validation_failed", [{"field": "code", "reason": f"wrong code; {left} attempts left"}]
            )
        self.received(application)
        return httpx.Response(200, json=self.accepted(application))

    def accepted(self, application: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "application_id",
            "tracking_code",
            "queue_ticket",
            "site_id",
            "service_code",
            "status",
            "missing",
        )
        return {k: application[k] for k in keys}

    def summary(self, a: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "application_id",
            "tracking_code",
            "queue_ticket",
            "status",
            "service_code",
            "service_name",
            "agency_code",
            "channel",
            "applicant_name",
            "origin_site_id",
        )
        starts = a["appointment"]["starts_at"] if a["appointment"] else None
        return {**{k: a[k] for k in keys}, "appointment_starts_at": starts}

    def track(self, code: str, last4: str | None) -> httpx.Response:
        for a in self.applications.values():
            if a["tracking_code"] == code.upper() and a["phone_last4"] == last4:
                return httpx.Response(
                    200,
                    json={
                        "tracking_code": a["tracking_code"],
                        "status": a["status"],
                        "service_code": a["service_code"],
                        "service_name": a["service_name"],
                        "site_id": a["site_id"],
                        "updated_at": a["updated_at"],
                        "next_step": "Datang sesuai jadwal.",
                        "appointment": a["appointment"],
                        "history": [
                            {"status": h["status"], "at": h["changed_at"], "note": h["note"]}
                            for h in a["history"]
                        ],
                    },
                )
        return _error(404, "not_found")


@dataclass
class Upstream:
    """The network the web sees: catalog.test and intake-<site>.test."""

    catalog: FakeCatalog
    intakes: dict[str, FakeIntake]

    def transport(self) -> httpx.MockTransport:
        def route(request: httpx.Request) -> httpx.Response:
            host = request.url.host
            if host == "catalog.test":
                return self.catalog.handle(request)
            site = host.removeprefix("intake-").removesuffix(".test")
            if site in self.intakes:
                return self.intakes[site].handle(request)
            raise httpx.ConnectError("no such host", request=request)

        return httpx.MockTransport(route)


def today() -> date:
    return datetime.now(UTC).date()
