"""The candidate-evidence load of one ingest batch on a large database, alone.

    python -m scripts.bench.ingest_scale --people 1000000 --keep --skip-baseline   # once
    python -m scripts.bench.evidence_load \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/cdp_bench_scale_1000000 \\
        --keyring var/bench/cdp_bench_scale_1000000_keyring.json \\
        --records var/bench/scale_1000000.jsonl --start 2700000

Takes ``--batches`` batches of 5,000 lines from ``--start`` in the records file (late in the
file: records whose people are mostly stored already), prepares them as ingest does, and
runs ``Evidence.load`` for each against the kept database, ``--rounds`` times (the first round
warms the caches and is not counted), each in a transaction that is rolled back, with no
evidence cache: every candidate is read from its stored summary or, without a valid one,
from its records (cdp.identity.summary). With ``--fill`` the first round stores a summary
for each customer it read from its records, as a batch that loads them does, and commits
that, so the counted rounds read summaries. Prints per batch the medians of this
process's CPU, the PostgreSQL backend's CPU and the wall time, and the CPU spent in the pair
lookups (``_pairs_pg``) and the candidate reads (``_load_customers``).

What the end-to-end benchmark cannot show alone: the storing process's cost per batch at a
given database size, on the same records, so two versions of the code can be compared in
one session on one database (run it from each tree).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cdp.config import Config  # noqa: E402
from cdp.identity.evidence import Evidence  # noqa: E402
from cdp.identity.prepare import PreparedRecord, prepare  # noqa: E402
from cdp.identity.records import RecordRejected, parse_line  # noqa: E402
from cdp.identity.rules import load_rules  # noqa: E402
from cdp.identity.writer import BatchWriter  # noqa: E402
from cdp.platform import Platform  # noqa: E402
from scripts.bench.procstat import cpu_s, print_machine  # noqa: E402

BATCH = 5000


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--keyring", required=True)
    ap.add_argument("--records", type=Path, required=True)
    ap.add_argument("--start", type=int, default=2_700_000, help="first line (0-based)")
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--fill", action="store_true",
                    help="the first round stores summaries of the customers it loads (commits)")
    args = ap.parse_args()

    print_machine()
    platform = Platform(Config(database_url=args.database_url, keyring_path=args.keyring,
                               policy_dir=str(ROOT / "policies")))
    rules = load_rules(platform.policies)
    with args.records.open(encoding="utf-8") as f:
        lines = list(itertools.islice(f, args.start, args.start + args.batches * BATCH))
    recs: list[PreparedRecord] = []
    for line in lines:
        with contextlib.suppress(RecordRejected):  # the same lines ingest rejects
            recs.append(prepare(parse_line(line), platform.keyring, rules, platform.policies))
    batches = [recs[i:i + BATCH] for i in range(0, len(recs), BATCH)]

    parts = {"_pairs_pg": 0.0, "_load_customers": 0.0}

    def timed(name: str) -> None:
        orig = getattr(Evidence, name)

        def wrapper(self: Evidence, *a: Any, **k: Any) -> Any:
            c0 = time.process_time()
            try:
                return orig(self, *a, **k)
            finally:
                parts[name] += time.process_time() - c0

        setattr(Evidence, name, wrapper)

    for name in parts:
        timed(name)

    rows: list[tuple[float, float, float]] = []
    loaded = holders = from_summary = 0
    for rnd in range(args.rounds):
        if rnd == 1:
            rows.clear()
            parts.update(dict.fromkeys(parts, 0.0))
        for batch in batches:
            with platform.Session() as s:
                conn = s.connection()
                backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                p0, c0, t0 = cpu_s(backend) or 0.0, time.process_time(), time.perf_counter()
                ev = Evidence(s, platform, rules, None)
                ev.load(batch, [])
                rows.append((time.process_time() - c0, (cpu_s(backend) or 0.0) - p0,
                             time.perf_counter() - t0))
                loaded, holders = len(ev.features), sum(len(v) for v in ev.index.values())
                from_summary = ev.from_summary
                if rnd == 0 and args.fill:
                    BatchWriter(s, platform, "bench:evidence_load", ev).write_summaries([])
                    s.commit()
                else:
                    s.rollback()
    n = len(rows)
    med = [statistics.median(r[i] for r in rows) for i in range(3)]
    print(f"{len(batches)} batches of {BATCH} lines from line {args.start:,}, {n} timed loads "
          f"(last batch: {loaded:,} customers loaded, {from_summary:,} of them from their "
          f"summary; {holders:,} holder entries)")
    print(f"per batch, median: this process {med[0]:.3f} s CPU, PostgreSQL backend {med[1]:.3f} s "
          f"CPU, wall {med[2]:.3f} s; of this process's CPU: pair lookups "
          f"{parts['_pairs_pg'] / n:.3f} s, candidate reads {parts['_load_customers'] / n:.3f} s")
    platform.dispose()


if __name__ == "__main__":
    main()
