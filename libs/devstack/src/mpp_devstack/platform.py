"""The whole platform as local processes: catalog, routing, notify, one intake per site, the web, the sandbox SMS
provider.

Used by `make up` (a person uses it) and by the end-to-end tests (the same processes, the same wiring).
Each service gets its own database on the given PostgreSQL server, as in production.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import asyncpg
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from mpp_devstack._proc import DevstackError, free_port, stop_process, wait_until

DEFAULT_SITES = ("mpp-tenggarong", "loa-kulu", "tabang")


@dataclass
class Process:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    module: str | None = None  # the ASGI app of a service (None for the sandbox), to start it again
    env: dict[str, str] = field(default_factory=dict, repr=False)
    args: tuple[str, ...] = ()  # uvicorn options of this service beyond the common ones

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def signing_key_pair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as PEM (private, public)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


async def create_database(admin_dsn: str, name: str) -> str:
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = admin_dsn.rpartition("/")
    return f"{base}/{name}"


@dataclass
class Platform:
    workdir: Path
    kafka_bootstrap: str
    pg_admin_dsn: str
    sites: tuple[str, ...] = DEFAULT_SITES
    db_prefix: str = "mpp"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, Process] = field(default_factory=dict)
    _operator_secret: str = field(default="operator", repr=False)

    def url(self, name: str) -> str:
        return self.processes[name].url

    def operator_token(self, site: str) -> str:
        """The bearer token of the one operator each local intake has (`operator-<site>`)."""
        return f"{self._operator_secret}-{site}"

    def provided_checklist(self, service_code: str) -> list[dict[str, str]]:
        """Every mandatory requirement of a service ticked as provided, as an operator does at the counter (the
        catalogue says which ones it has)."""
        detail = httpx.get(f"{self.url('catalog')}/services/{service_code}", timeout=10).json()
        return [
            {"requirement": item["name"], "provided": item["form"]}
            for item in detail.get("requirements", [])
            if isinstance(item, dict) and not item.get("optional")
        ]

    def supervisor_token(self, site: str) -> str:
        """The bearer token of each local intake's supervisor (`supervisor-<site>`: may also cancel and erase)."""
        return f"{self._operator_secret}-supervisor-{site}"

    def _env(self, **values: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SITE_", "DATABASE_", "SERVICE_"))}
        env.update(self.extra_env)
        env.update({k.upper(): v for k, v in values.items()})
        return env

    def _spawn(
        self,
        name: str,
        module: str,
        env: dict[str, str],
        port: int | None = None,
        args: tuple[str, ...] = (),
    ) -> Process:
        port = port or free_port()
        log = self.workdir / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",  # every service: `<service>.app:create_app()` reads its settings from the env
                    module,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "10",
                    *args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        process = Process(name, port, proc, log, module, env, args)
        self.processes[name] = process
        return process

    def start(self, secrets: dict[str, str], timeout: float = 120.0) -> Platform:
        """Start everything; `secrets` holds CONTACT_SEALING_KEY, NIK_ENCRYPTION_KEY, DELIVERY_REPORT_TOKEN."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._operator_secret = secrets.get("operator_token", "operator")
        dsns = asyncio.run(self._databases())
        common = {"kafka_bootstrap_servers": self.kafka_bootstrap, "outbox_poll_interval_s": "0.5", **secrets}
        notify_port = free_port()
        sandbox_port = free_port()
        webhook = f"http://127.0.0.1:{notify_port}/delivery-reports"
        secrets = {"notify_ops_token": "", **secrets}
        sandbox_env = self._env(sms_sandbox_webhook_token=secrets["delivery_report_token"])
        log = self.workdir / "sms-sandbox.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mpp_devstack.sms_sandbox",
                    "--port",
                    str(sandbox_port),
                    "--webhook-url",
                    webhook,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=sandbox_env,
                start_new_session=True,
            )
        self.processes["sms-sandbox"] = Process("sms-sandbox", sandbox_port, proc, log)
        self._spawn(
            "catalog",
            "catalog.app:create_app",
            self._env(**common, service_name="catalog", database_url=dsns["catalog"]),
        )
        self._wait_ready(["catalog"], timeout)
        # The console signs operators' tokens for intake with this key; intakes hold its public half.
        console_private_key, console_public_key = signing_key_pair()
        sandbox = f"http://127.0.0.1:{sandbox_port}"
        self._spawn(
            "notify",
            "notify.app:create_app",
            self._env(
                **common,
                service_name="notify",
                database_url=dsns["notify"],
                # Both adapters against the sandbox, Twilio first: Zenziva takes over when Twilio refuses.
                sms_providers="twilio,zenziva",
                twilio_base_url=sandbox,
                twilio_account_sid="ACsandbox",
                twilio_auth_token="sandbox-token",  # noqa: S106 - the local sandbox accepts any
                twilio_from="MPPKUKAR",
                zenziva_base_url=sandbox,
                zenziva_userkey="sandbox",
                zenziva_passkey="sandbox-passkey",
                # Twilio's StatusCallback (the sandbox reads our reference from it and reports to `webhook`).
                sms_status_callback_url=f"http://127.0.0.1:{notify_port}/delivery-reports/twilio",
            ),
            port=notify_port,
        )
        self._spawn(
            "routing",
            "routing.app:create_app",
            self._env(**common, service_name="routing", database_url=dsns["routing"]),
        )
        for site in self.sites:
            self._spawn(
                f"intake-{site}",
                "intake.app:create_app",
                self._env(
                    **common,
                    service_name="intake",
                    site_id=site,
                    database_url=dsns[f"intake-{site}"],
                    operator_tokens=f"operator-{site}:{self.operator_token(site)},"
                    f"supervisor-{site}#supervisor:{self.supervisor_token(site)}",
                    intake_token_public_key=console_public_key,
                    # The web calls intake from this host and names the browser in X-Forwarded-For; intake
                    # believes it from here only, and sees the real peer (no uvicorn proxy headers).
                    trusted_proxy_cidrs="127.0.0.1/32,::1/128",
                ),
                args=("--no-proxy-headers",),
            )
        self._spawn("web", "web.app:create_app", self._web_env(console_private_key))
        self._wait_ready(list(self.processes), timeout)
        return self

    def web_logins(self) -> list[tuple[str, str, str, str]]:
        """Development accounts of the web console: (username, password, role, site), an operator and a
        supervisor per site; the password is the site's operator token (random per checkout with `make up`)."""
        return [
            (f"{prefix}-{site}", self.operator_token(site), role, site)
            for site in self.sites
            for prefix, role in (("petugas", "operator"), ("supervisor", "supervisor"))
        ]

    def _web_env(self, signing_key: str) -> dict[str, str]:
        from web.accounts import hash_password  # the web's own hashing (argon2id): only it reads the accounts

        accounts = [
            {
                "username": user,
                "name": user,
                "role": role,
                "site": site,
                "password_hash": hash_password(password),
            }
            for user, password, role, site in self.web_logins()
        ]
        return self._env(
            service_name="web",
            catalog_url=self.url("catalog"),
            intake_urls=",".join(f"{site}={self.url('intake-' + site)}" for site in self.sites),
            session_secret=token_urlsafe(32),
            token_signing_key=signing_key,
            accounts=json.dumps(accounts),
            # Plain http on 127.0.0.1 here; production serves the web over HTTPS with Secure cookies.
            cookie_secure="false",
        )

    async def _databases(self) -> dict[str, str]:
        names = ["catalog", "routing", "notify", *[f"intake-{s}" for s in self.sites]]
        return {
            n: await create_database(self.pg_admin_dsn, f"{self.db_prefix}_{n.replace('-', '_')}")
            for n in names
        }

    def _wait_ready(self, names: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for name in names:
            process = self.processes[name]
            path = "/_sandbox/messages" if name == "sms-sandbox" else "/readyz"

            def ready(process: Process = process, path: str = path) -> bool:
                if process.proc.poll() is not None:
                    raise DevstackError(
                        f"{process.name} exited with code {process.proc.returncode}; "
                        f"see {process.log}:\n" + process.log.read_text(errors="replace")[-3000:]
                    )
                try:
                    return httpx.get(process.url + path, timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(ready, max(1.0, deadline - time.monotonic()), f"{name} at {process.url}", process.log)

    def stop(self, names: list[str] | None = None) -> None:
        for name in names or list(reversed(self.processes)):
            process = self.processes.get(name)
            if process is not None:
                stop_process(process.proc)

    def kill(self, name: str) -> None:
        """SIGKILL one service, as a crash would."""
        import signal

        os.killpg(self.processes[name].proc.pid, signal.SIGKILL)
        self.processes[name].proc.wait(10)

    def restart(
        self,
        name: str,
        env: dict[str, str] | None = None,
        *,
        module: str | None = None,
        wait: bool = True,
        timeout: float = 60.0,
    ) -> Process:
        """Stop one service (SIGTERM; a dead one is just replaced) and start it again on the same port.

        ``env`` adds or overrides environment variables, and ``module`` replaces the ASGI factory (a test
        launcher), for this start only: a later ``restart(name)`` is back to the service's usual ones.
        """
        old = self.processes[name]
        if old.module is None:
            raise DevstackError(f"{name} cannot be restarted")
        stop_process(old.proc)
        process = self._spawn(
            name,
            module or old.module,
            {**old.env, **{k.upper(): v for k, v in (env or {}).items()}},
            old.port,
            old.args,
        )
        process.env, process.module = old.env, old.module
        if wait:
            self._wait_ready([name], timeout)
        return process

    def sms_to(self, e164: str) -> list[dict[str, Any]]:
        """What the sandbox provider received for one number, oldest first."""
        found: list[dict[str, Any]] = httpx.get(
            f"{self.url('sms-sandbox')}/_sandbox/messages", params={"to": e164}, timeout=5
        ).json()
        return found

    def wait_for_sms(self, e164: str, timeout: float = 30.0) -> dict[str, Any]:
        """The latest SMS the sandbox received for `e164`, waiting up to `timeout` seconds for one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.sms_to(e164):
                return found[-1]
            time.sleep(0.2)
        raise AssertionError(f"no SMS for {e164} reached the sandbox within {timeout:.0f} s")
