"""What the benchmarks read about processes and the machine, in one place.

Figures come from /proc (Linux): a process's own resident memory and CPU time, its children
(gunicorn workers, ingest workers) and the PostgreSQL backends serving one database, so a
benchmark can show every process's memory and the server's share of the CPU.
"""

from __future__ import annotations

import os
import timeit


def machine_figure_ms() -> float:
    """``sum(range(10**7))``, best of three, in ms: printed beside every figure, since machines
    of one kind differ by up to 2x from session to session."""
    return min(timeit.repeat("sum(range(10**7))", number=1, repeat=3)) * 1000


def print_machine() -> float:
    """Print the machine figure, the CPU count and the load average on one line (the line
    every benchmark starts or ends with); returns the figure in ms."""
    ms = machine_figure_ms()
    print(f"machine: sum(range(10**7)) {ms:.0f} ms, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    return ms


def status_mb(pid: int, *fields: str) -> tuple[float, ...]:
    """The named fields of /proc/PID/status (VmRSS, VmHWM, RssAnon...) in MB, zeros once the
    process has gone. RssAnon is private memory only: a PostgreSQL backend's VmRSS also counts
    the shared buffers it has touched, which grows with the pages read, not with a leak."""
    wanted = {f + ":": i for i, f in enumerate(fields)}
    out = [0.0] * len(fields)
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                key = line.split(None, 1)[0] if line else ""
                if key in wanted:
                    out[wanted[key]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return tuple(out)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    return status_mb(pid, field)[0]


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (all its threads'), empty once it has gone."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as f:
                out.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return out


def cpu_s(pid: int) -> float | None:
    """utime + stime of ``pid`` in seconds (None once it has gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_backends(database: str) -> list[int]:
    """Process ids of the PostgreSQL backends connected to ``database`` on this machine."""
    out = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("postgres:") and f" {database} " in cmd:
            out.append(int(pid))
    return out
