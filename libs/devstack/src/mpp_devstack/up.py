"""`make up`: the whole platform on this machine, with Kukar's data, until Ctrl-C.

Starts (or reuses, see infra.py) Kafka and PostgreSQL, then catalog, routing, notify, the sandbox SMS provider,
one intake per site and the web, and prints how to send an application and watch its SMS arrive, and the web's
address with a development login per site.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import threading
from pathlib import Path

from mpp_devstack.infra import infrastructure
from mpp_devstack.kafka import REPO_ROOT
from mpp_devstack.platform import DEFAULT_SITES, Platform


def _secrets(workdir: Path) -> dict[str, str]:
    """Development secrets, made once per checkout and kept outside git (.devstack/ is ignored)."""
    path = workdir / "secrets.json"
    from mpp_kit.sealing import new_key

    values = {
        "contact_sealing_key": new_key(),
        "nik_encryption_key": new_key(),
        "delivery_report_token": secrets.token_urlsafe(24),
        "notify_ops_token": secrets.token_urlsafe(24),
        "catalog_admin_token": secrets.token_urlsafe(24),
        "catalog_ops_token": secrets.token_urlsafe(24),
        "operator_token": secrets.token_urlsafe(24),
    }
    if path.exists():  # keep what earlier runs made (sealed data stays readable); add what is new
        values.update(json.loads(path.read_text()))
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sites", default=",".join(DEFAULT_SITES), help="intake sites to run (comma-separated)"
    )
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / ".devstack")
    args = parser.parse_args()
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with infrastructure(workdir) as infra:
        print(
            f"Kafka {infra.kafka_bootstrap} and PostgreSQL {infra.pg_admin_dsn} ({infra.source})", flush=True
        )
        platform = Platform(
            workdir / "logs",
            infra.kafka_bootstrap,
            infra.pg_admin_dsn,
            sites=tuple(s for s in args.sites.split(",") if s),
        )
        try:
            platform.start(_secrets(workdir))
            _explain(platform)
            stop.wait()
        finally:
            print("\nstopping…", flush=True)
            platform.stop()
    print("stopped: no process left behind", flush=True)


def _explain(platform: Platform) -> None:
    site = next((s for s in platform.sites if s != "mpp-tenggarong"), platform.sites[0])
    lines = ["", "Mini MPP platform is up. Services:"]
    lines += [f"  {name:<24} {p.url}" for name, p in platform.processes.items()]
    lines += [
        "",
        f"Submit an application at the counter of Mini MPP {site} (the operator's token, the checklist ticked):",
        f"  curl -s -X POST {platform.url('intake-' + site)}/applications -H 'Content-Type: application/json' \\",
        f"    -H 'Authorization: Bearer {platform.operator_token(site)}' -H \"Idempotency-Key: $(date +%s)\" \\",
        "    -d '" + json.dumps(_example_submit(platform), ensure_ascii=False).replace("'", "'\\''") + "'",
        "",
        "Then see the SMS the applicant received (within seconds):",
        f"  curl -s {platform.url('sms-sandbox')}/_sandbox/messages",
        "",
        "The operator marks it ready for pickup (the applicant is texted again):",
        f"  curl -s -X POST {platform.url('intake-' + site)}/applications/<application_id>/status \\",
        f"    -H 'Authorization: Bearer {platform.operator_token(site)}' -H 'Content-Type: application/json' \\",
        '    -d \'{"status": "ready_for_pickup"}\'',
        "",
        f"Cancelling and erasing need the site's supervisor: Bearer {platform.supervisor_token(site)}",
        "",
        f"The web: the public portal at {platform.url('web')}/ and the counter console at "
        f"{platform.url('web')}/masuk. Development logins (username / password):",
        *[
            f"  {role:<10} {site:<16} {user} / {password}"
            for user, password, role, site in platform.web_logins()
        ],
        "",
        f"Logs: {platform.workdir}/. Press Ctrl-C to stop everything.",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()


def _example_submit(platform: Platform) -> dict[str, object]:
    """A counter submit of Akta Kelahiran with every mandatory requirement ticked, as the catalogue lists them."""
    code = "DUKCAPIL-AKTA-LAHIR"
    checklist = platform.provided_checklist(code)
    return {
        "service_code": code,
        "channel": "counter",
        "applicant": {"name": "Siti Aminah", "nik": "6402024101900001", "phone": "0812-3456-0001"},
        "checklist": checklist,
    }
