"""CPU time read from /proc, for the benchmarks' tables of where the time went (Linux only)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def process_cpu(stat: Path, *, children: bool) -> tuple[str, float]:
    """(command, CPU seconds so far) of one process from its /proc/<pid>/stat: user + system time, plus its
    waited-for children's when `children`; ("", 0.0) for a process gone meanwhile."""
    try:
        head, _, rest = stat.read_text().rpartition(")")
    except OSError:
        return "", 0.0
    fields = rest.split()
    ticks = sum(int(value) for value in fields[11 : 15 if children else 13])  # utime, stime[, cutime, cstime]
    return head.partition("(")[2], ticks / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children so far, in seconds."""
    return process_cpu(Path(f"/proc/{pid}/stat"), children=True)[1]


def cpu_by_program(*programs: str) -> dict[str, float]:
    """CPU seconds so far of every process whose command is one of `programs` (PostgreSQL's backends, the
    broker's JVM), summed per program: the live ones' own time plus what their exited children used (so a
    backend that served a pool closed meanwhile still counts, through the postmaster)."""
    found = dict.fromkeys(programs, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        command, seconds = process_cpu(stat, children=True)
        if command in found:
            found[command] += seconds
    return found


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far (all processes: broker, database, services, this driver)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


@contextmanager
def cpu_per_application(count: int, **processes: int) -> Iterator[dict[str, float]]:
    """Fills the dict it yields, on leaving, with the CPU milliseconds per application (of `count`) spent
    meanwhile by each named process (pid, with its waited-for children), PostgreSQL (`postgres`) and the broker
    (`java`): where the time of a phase went."""

    def now() -> dict[str, float]:
        return {
            **{name: cpu_seconds(pid) for name, pid in processes.items()},
            **cpu_by_program("postgres", "java"),
        }

    spent: dict[str, float] = {}
    before = now()
    yield spent
    spent.update({name: (seconds - before[name]) * 1000 / count for name, seconds in now().items()})
