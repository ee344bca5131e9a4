"""Run an export profile: consent filter, transforms, k-anonymity, files, signed manifest.

The run streams: customers are read in keyset-paginated batches (one short session each),
transformed rows go to a spool file in a hidden temporary directory while only the counts
of quasi-identifier classes stay in memory, and a second pass writes the formats. The
directory is renamed into place only when every file and the manifest are complete, and
downloads are served only for runs recorded as succeeded, so a crash leaves nothing that a
recipient can see; the next run removes what the crashed one left behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from cdp.audit.log import AuditEntry, record
from cdp.db import utcnow
from cdp.exports import manifest as manifest_mod
from cdp.exports.kanon import KAnonymizer
from cdp.exports.models import ExportRun
from cdp.exports.profiles import Profile, load_profile
from cdp.exports.rows import customer_row
from cdp.exports.transforms import Context, apply, depth, hierarchy, output_type
from cdp.exports.writers import open_writer, sha256_file
from cdp.identity import normalize as nz
from cdp.identity.models import Consent, Customer, SourceRecord
from cdp.platform import Platform

log = logging.getLogger("cdp.exports")
BATCH = 500
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}
SOURCE_CATEGORY = {
    "customer_id": "platform_id", "name": "identity", "gender": "identity",
    "birth_date": "demographic", "address": "address", "phone": "contact", "email": "contact",
    "national_id": "government_id", "passport": "government_id", "member_id": "platform_id",
    "platform_user_id": "platform_id", "wechat_openid": "platform_id",
    "wechat_unionid": "platform_id", "device_id": "platform_id", "channels": "platform_id",
    "order_count": "purchase", "rx_order_count": "health", "total_spend": "purchase",
    "first_order_at": "purchase", "last_order_at": "purchase", "interaction_count": "free_text",
    "interaction_text": "free_text", "consented_purposes": "consent", "created_at": "identity",
}


@dataclass
class RunResult:
    run_id: str
    directory: Path
    manifest_path: Path
    rows: int
    suppressed: int
    k_reached: int | None


def export_root(platform: Platform) -> Path:
    # Absolute: run records name their directory, and the server's cwd may differ.
    return Path(platform.config.export_dir).resolve()


def newest_consents(session: Session, customer_ids: list[str], purpose: str) -> dict[str, bool]:
    """customer id -> granted, by the newest decision for ``purpose`` (ties: latest row)."""
    out: dict[str, tuple[datetime, int, bool]] = {}
    rows = session.execute(
        select(Consent.customer_id, Consent.at, Consent.id, Consent.granted).where(
            Consent.customer_id.in_(customer_ids), Consent.purpose == purpose
        )
    )
    for cid, at, cid_row, granted in rows:
        prev = out.get(cid)
        if prev is None or (at, cid_row) > (prev[0], prev[1]):
            out[cid] = (at, cid_row, bool(granted))
    return {cid: v[2] for cid, v in out.items()}


def _changed_since(since: datetime) -> ColumnElement[bool]:
    return or_(
        Customer.updated_at > since,
        Customer.id.in_(select(SourceRecord.customer_id).where(SourceRecord.updated_at > since)),
        Customer.id.in_(select(Consent.customer_id).where(Consent.created_at > since)),
    )


def iter_eligible_rows(platform: Platform, profile: Profile, since: datetime | None = None,
                       removed: Callable[[str], None] | None = None,
                       batch: int = BATCH) -> Iterator[dict[str, Any]]:
    """Flat source rows of every customer the profile may export: active (never erased,
    restricted or merged away) and whose newest consent for the purpose (and, for health
    data, the separate health purpose) is a grant.

    Each batch is read in its own short session that is closed before its rows are handed
    out, so no database transaction (on SQLite: the write lock) stays open while the caller
    transforms and writes.
    """
    from cdp.identity.view import assemble_customers

    last = ""
    while True:
        rows: list[dict[str, Any]] = []
        gone: list[str] = []
        with platform.Session() as session:
            q = select(Customer.id, Customer.status).where(Customer.id > last)
            if since is not None:
                q = q.where(_changed_since(since))
            customers = list(session.execute(q.order_by(Customer.id).limit(batch)))
            if not customers:
                return
            last = customers[-1][0]
            ids = [c[0] for c in customers]
            consents = [newest_consents(session, ids, p) for p in profile.consent_purposes]
            objections = (newest_consents(session, ids, profile.objection_purpose)
                          if profile.objection_purpose else {})
            eligible: list[str] = []
            for cid, status in customers:
                if (status != "active" or not all(c.get(cid, False) for c in consents)
                        or objections.get(cid) is False):
                    # Merged-away customers leave too: their rows live on under the survivor.
                    gone.append(cid)
                    continue
                eligible.append(cid)
            # The whole batch's views in a handful of queries, not ~7 per customer; a
            # customer whose status changed since the page was read is left out of it.
            # A run reads every customer once: their data keys and normal forms go to
            # memos of this page, not to the process-wide caches, which it would otherwise
            # fill up to their caps (memory rising with the rows read for the first ~50,000
            # customers, decrypted values and keys kept after the run).
            with platform.keys.uncached(), nz.private_memo():
                views = assemble_customers(
                    session, platform, eligible,
                    withhold_statuses=("restricted",),
                )
            for cid in eligible:
                view = views.get(cid)
                if view is None or view["status"] != "active":
                    gone.append(cid)
                    continue
                rows.append(customer_row(view))
            session.rollback()
        if removed is not None:
            for cid in gone:
                removed(cid)
        yield from rows


def _cleanup_leftovers(root: Path, session: Session, profile: str) -> None:
    """Remove temporary directories of runs that are no longer running (crashed runs)."""
    if not root.is_dir():
        return
    for d in root.iterdir():
        if d.is_dir() and d.name.startswith(".tmp-"):
            run = session.get(ExportRun, d.name[5:])
            if run is None or run.status != "running":
                shutil.rmtree(d, ignore_errors=True)


def abandon_running(platform: Platform, profile: str) -> int:
    """Mark runs of ``profile`` left 'running' by a crashed process as failed (the caller
    holds the job lock, so no live process owns them). Returns how many."""
    with platform.transaction() as session:
        runs = list(session.scalars(select(ExportRun).where(
            ExportRun.profile == profile, ExportRun.status == "running")))
        for r in runs:
            r.status = "failed"
            r.error = "abandoned: the process running it stopped"
            r.finished_at = utcnow()
        return len(runs)


def run_export(
    platform: Platform,
    profile_name: str,
    *,
    mode: str = "full",
    actor: str = "cli",
    on_row: Callable[[int], None] | None = None,
    on_written: Callable[[int], None] | None = None,
) -> RunResult:
    """Run ``profile_name`` now and publish its files; returns where they are.

    ``mode="incremental"`` exports customers changed since the last succeeded run (a full
    run when there is none) and lists the pseudonyms of customers who left the export
    (erased, restricted, consent withdrawn) in ``removed.csv``. ``on_row`` is called with the
    running row count (progress, fault injection in tests); ``on_written`` with the count of
    candidate rows gone through the second pass, the one that writes the files (progress).
    """
    profile = load_profile(platform.policies, profile_name)
    if mode not in ("full", "incremental"):
        raise ValueError("mode must be full or incremental")
    started = utcnow()
    root = export_root(platform) / profile.name
    root.mkdir(parents=True, exist_ok=True)
    with platform.transaction() as session:
        since = None
        if mode == "incremental":
            since = session.scalar(
                select(ExportRun.watermark).where(
                    ExportRun.profile == profile.name, ExportRun.status == "succeeded"
                ).order_by(ExportRun.watermark.desc()).limit(1))
        run = ExportRun(profile=profile.name, recipient=profile.recipient, mode=mode,
                        status="running", started_at=started, watermark=started, since=since,
                        rows=0, suppressed=0, files=[], actor=actor)
        session.add(run)
        session.flush()
        run_id = run.id
        _cleanup_leftovers(root, session, profile.name)
    tmp = root / f".tmp-{run_id}"
    tmp.mkdir()
    try:
        result = _produce(platform, profile, run_id, tmp, root, started, since, mode, on_row,
                          on_written)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        with platform.transaction() as session:
            failed = session.get(ExportRun, run_id)
            if failed is not None:
                failed.status = "failed"
                failed.error = type(exc).__name__
                failed.finished_at = utcnow()
            record(session, AuditEntry(actor=actor, action="export.run", decision="error",
                                       purpose=profile.purpose,
                                       detail={"profile": profile.name, "run_id": run_id,
                                               "error": type(exc).__name__}))
        raise
    return result


def _produce(platform: Platform, profile: Profile, run_id: str, tmp: Path, root: Path,
             started: datetime, since: datetime | None, mode: str,
             on_row: Callable[[int], None] | None,
             on_written: Callable[[int], None] | None = None) -> RunResult:
    ring = platform.keyring
    ctx = Context(
        pseudonym_key=ring.pseudonym_key(profile.pseudonym_scope),
        date_shift_key=ring.pseudonym_key(profile.pseudonym_scope + "/date-shift"),
        today=started.astimezone(UTC).date(),
        policies=platform.policies,
    )
    fields = profile.output_fields
    qis = [f for f in fields if f.quasi_identifier]
    kanon = KAnonymizer([depth(f) for f in qis], profile.k, profile.max_suppression)
    id_field = next((f for f in fields if f.source == "customer_id" and f.transform == "pseudonym"), None)

    removed_path = tmp / "removed.csv"
    removed_fh = removed_path.open("w", encoding="utf-8") if mode == "incremental" else None
    removed_n = 0

    def on_removed(cid: str) -> None:
        nonlocal removed_n
        if removed_fh is not None and id_field is not None:
            ctx.customer_id = cid
            removed_fh.write(apply(id_field, cid, ctx) + "\n")
            removed_n += 1

    if removed_fh is not None:
        removed_fh.write(f"{id_field.name if id_field else 'customer'}\n")
    spool = tmp / ".spool.jsonl"
    n = 0
    with spool.open("w", encoding="utf-8") as sp:
        for src in iter_eligible_rows(platform, profile, since, on_removed):
            ctx.customer_id = src["customer_id"]
            ctx.known = src.get("_known", [])
            out: dict[str, Any] = {}
            chain = []
            for f in fields:
                if f.quasi_identifier:
                    h = hierarchy(f, src.get(f.source), ctx)
                    chain.append(h)
                    out[f.name] = list(h)
                else:
                    out[f.name] = apply(f, src.get(f.source), ctx)
            kanon.add(tuple(chain))
            sp.write(json.dumps(out, ensure_ascii=False) + "\n")
            n += 1
            if on_row is not None:
                on_row(n)
    if removed_fh is not None:
        removed_fh.close()
    solution = kanon.solve()

    columns = [(f.name, output_type(f)) for f in fields]
    writers = [open_writer(fmt, tmp / f"{profile.name}.{EXTENSIONS[fmt]}", columns)
               for fmt in profile.formats]
    with spool.open(encoding="utf-8") as sp:
        for done, line in enumerate(sp, 1):
            if on_written is not None:
                on_written(done)
            row = json.loads(line)
            row_chain = tuple(tuple(row[f.name]) for f in qis)
            if not solution.keep(row_chain):
                continue
            for f, lv in zip(qis, solution.levels, strict=True):
                row[f.name] = row[f.name][lv]
            for w in writers:
                w.write(row)
    for w in writers:
        w.close()
    spool.unlink()

    files = [{"name": w.path.name, "format": fmt, "rows": w.rows, "bytes": w.path.stat().st_size,
              "sha256": sha256_file(w.path)} for w, fmt in zip(writers, profile.formats, strict=True)]
    if removed_fh is not None:
        files.append({"name": removed_path.name, "format": "csv", "rows": removed_n,
                      "bytes": removed_path.stat().st_size, "sha256": sha256_file(removed_path)})
    finished = utcnow()
    doc = {
        "run_id": run_id,
        "profile": profile.name,
        "recipient": profile.recipient,
        "purpose": profile.purpose,
        "mode": mode,
        "since": since.isoformat() if since else None,
        "watermark": started.isoformat(),
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "rows": solution.rows,
        "candidates": n,
        "suppressed": solution.suppressed,
        "removed": removed_n,
        "k": profile.k,
        "k_reached": solution.k_reached,
        "quasi_identifiers": [
            {"name": f.name, "transform": f.transform, "level": lv}
            for f, lv in zip(qis, solution.levels, strict=True)
        ],
        "schema": [{"name": f.name, "type": output_type(f), "transform": f.transform} for f in fields],
        "files": files,
    }
    signed = manifest_mod.sign(doc, ring.signing_key, ring.verify_key_bytes())
    manifest_mod.write(tmp, signed)
    # Files are for the service account and its group (the download endpoint), not the world.
    for path in tmp.iterdir():
        os.chmod(path, 0o640)
    os.chmod(tmp, 0o750)  # noqa: S103 - group access is intended: the download endpoint's group
    final = root / run_id
    # Atomic publication: the directory appears complete or not at all.
    os.rename(tmp, final)
    with platform.transaction() as session:
        run = session.get(ExportRun, run_id)
        if run is None:
            raise RuntimeError(f"export run {run_id} vanished while it was running")
        run.status = "succeeded"
        run.finished_at = finished
        run.rows = solution.rows
        run.suppressed = solution.suppressed
        run.k_reached = solution.k_reached
        run.directory = str(final)
        run.files = [*files, {"name": manifest_mod.MANIFEST_NAME, "format": "json",
                              "rows": 0, "bytes": (final / manifest_mod.MANIFEST_NAME).stat().st_size,
                              "sha256": sha256_file(final / manifest_mod.MANIFEST_NAME)}]
        record(session, AuditEntry(
            actor=run.actor, action="export.run", purpose=profile.purpose,
            categories=sorted({SOURCE_CATEGORY[f.source] for f in fields}),
            view={f.name: f.transform for f in fields},
            detail={"profile": profile.name, "recipient": profile.recipient, "run_id": run_id,
                    "mode": mode, "rows": solution.rows, "suppressed": solution.suppressed,
                    "removed": removed_n, "k": profile.k, "k_reached": solution.k_reached},
        ))
    log.info("export %s run %s: %d rows, %d suppressed", profile.name, run_id,
             solution.rows, solution.suppressed)
    return RunResult(run_id, final, final / manifest_mod.MANIFEST_NAME, solution.rows,
                     solution.suppressed, solution.k_reached)
