"""`cdp ingest PATH` and `cdp identity ...` (docs/cli.md)."""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import IO

import click
from sqlalchemy import select

from cdp.commandline import get_platform
from cdp.identity.models import SourceRecord
from cdp.identity.pipeline import IngestSummary, bulk_gc, ingest_lines


@click.command("ingest")
@click.argument("path")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(1, 10_000),
              help="records per transaction (a crash loses at most one batch; rerun completes)")
@click.option("--progress/--no-progress", default=None, help="default: on a terminal")
@click.option("--workers", default=None, type=click.IntRange(0, 16),
              help="processes preparing batches (validation's PII scans, normalisation, blind "
                   "indexes) while this one resolves and stores; 0 = inline; default: 1 on a "
                   "machine with two or more cores, else 0")
def ingest(path: str, batch_size: int, progress: bool | None, workers: int | None) -> None:
    """Ingest source records from a JSON Lines file (`-` = stdin)."""
    if workers is None:
        workers = 1 if (os.cpu_count() or 1) >= 2 else 0
    platform = get_platform()
    summary = IngestSummary()
    if path == "-":
        fh: IO[str] = sys.stdin
        rejects_path = Path("stdin.rejects.jsonl")
        total = None
    else:
        p = Path(path)
        if not p.is_file():
            raise click.BadParameter("no such file", param_hint="PATH")
        fh = open(p, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
        rejects_path = Path(f"{path}.rejects.jsonl")
        total = p.stat().st_size
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=None, unit=" rec", desc="ingest", file=sys.stderr, dynamic_ncols=True)
    del total
    started = time.perf_counter()
    try:
        with open(rejects_path, "w", encoding="utf-8") as rejects, bulk_gc():
            def reject(n: int, reason: str) -> None:
                rejects.write(json.dumps({"line": n, "reason": reason}, ensure_ascii=False) + "\n")
                rejects.flush()

            ingest_lines(
                platform,
                enumerate(fh, start=1),
                actor="cli:ingest",
                on_reject=reject,
                batch_size=batch_size,
                summary=summary,
                on_batch=(bar.update if bar else None),
                workers=workers,
            )
    finally:
        if bar:
            bar.close()
        if fh is not sys.stdin:
            fh.close()
    if summary.rejected == 0:
        rejects_path.unlink(missing_ok=True)
    elapsed = time.perf_counter() - started
    rate = summary.read / elapsed if elapsed > 0 else 0.0
    if summary.rejected:
        click.echo(f"rejected lines written to {rejects_path}", err=True)
    click.echo(f"{summary.line()} in {elapsed:.1f}s ({rate:,.0f} records/s)")


@click.group("identity")
def identity() -> None:
    """Identity resolution: links, merges, splits."""


@identity.command("links")
def links() -> None:
    """CSV on stdout: source,source_record_id,customer_id for every source record."""
    platform = get_platform()
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(("source", "source_record_id", "customer_id"))
    with platform.transaction() as session:
        rows = session.execute(
            select(SourceRecord.source, SourceRecord.source_record_id, SourceRecord.customer_id)
            .order_by(SourceRecord.source, SourceRecord.source_record_id)
            .execution_options(yield_per=5000)
        )
        for row in rows:
            out.writerow(tuple(row))


@identity.command("merge")
@click.argument("customer_a")
@click.argument("customer_b")
@click.option("--reason", required=True)
@click.option("--actor", default="cli:steward", show_default=True)
def merge_cmd(customer_a: str, customer_b: str, reason: str, actor: str) -> None:
    """Merge CUSTOMER_B into CUSTOMER_A (data steward)."""
    from cdp.identity.stewardship import merge_customers

    platform = get_platform()
    with platform.transaction() as session:
        survivor = merge_customers(session, platform, customer_a, customer_b, actor, reason)
    click.echo(survivor)


@identity.command("split")
@click.argument("customer_id")
@click.argument("record_ids", nargs=-1, required=True)
@click.option("--reason", required=True)
@click.option("--actor", default="cli:steward", show_default=True)
def split_cmd(customer_id: str, record_ids: tuple[str, ...], reason: str, actor: str) -> None:
    """Move RECORD_IDS (source record ids) of CUSTOMER_ID to a new customer (data steward)."""
    from cdp.identity.stewardship import split_records

    platform = get_platform()
    with platform.transaction() as session:
        new = split_records(session, platform, customer_id, list(record_ids), actor, reason)
    click.echo(new)
