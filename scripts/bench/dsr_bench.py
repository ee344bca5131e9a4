#!/usr/bin/env python
"""Data subject request benchmark: access package and deletion for one customer with 50
source records, among a background population.

    python -m scripts.bench.dsr_bench --records 50 --background 2000 --repeat 5

Setup: ``--background`` generated people are ingested, then one person whose 50 records
(seven channels, a shared phone and member id, prescription orders, complaints, consents)
resolve to one customer. Each repetition re-creates that person (new ids) so every deletion
starts from the same state.

Measured in the same run (median of ``--repeat``):
  baseline   assemble_customer: decrypting the unified view once (what one read costs)
  access     the whole access-package request: create, verify, approve (four eyes), execute
             (package built with channels and audit-log accesses, sealed under a one-time
             token), the one download (decrypted, JSON and CSV rendered), committed and audited
  deletion   the whole deletion request (approved): rx records re-encrypted under retention keys, data
             keys shredded, rows and blind indexes deleted, committed and audited
Ratios are against the baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHANNELS = ["jd_health", "ali_health", "pingan_health", "wechat_mp", "app", "store_pos", "call_center"]


def person(n: int, tag: str) -> list[dict]:
    phone = "+86 139 0000 " + tag[-4:].rjust(4, "0")
    out = []
    for i in range(n):
        src = CHANNELS[i % len(CHANNELS)]
        rec: dict = {
            "source": src, "source_record_id": f"bench-{tag}-{i}",
            "observed_at": f"2026-0{1 + i % 9}-1{i % 10}T10:00:00+08:00",
            "identifiers": [{"type": "phone", "value": phone},
                            {"type": "member_id", "value": f"MB{tag}"}],
            "profile": {"name": "欧阳明远", "gender": "male", "birth_date": "1979-08-02",
                        "address": "四川省成都市武侯区天府大道100号2栋3单元401室"},
            "orders": [{"order_id": f"B{tag}{i}", "ordered_at": f"2026-0{1 + i % 9}-1{i % 10}T09:00:00+08:00",
                        "total": 52.0, "items": [{"sku": "SKU100106", "name": "瑞舒伐他汀钙片 10mg*7片",
                                                  "rx": i % 2 == 0, "qty": 1, "unit_price": 52.0}]}],
        }
        if i % 5 == 0:
            rec["interactions"] = [{"kind": "note", "at": rec["observed_at"], "text": "客户咨询配送时间。"}]
        if i % 7 == 0:
            rec["consents"] = [{"purpose": "marketing", "granted": i % 14 == 0, "at": rec["observed_at"]}]
        out.append(rec)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=50)
    ap.add_argument("--background", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--db", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    from scripts.bench.procstat import print_machine

    print_machine()

    from sqlalchemy import func, select

    from cdp.config import Config
    from cdp.crypto.keyring import Keyring
    from cdp.identity.models import SourceRecord
    from cdp.identity.pipeline import ingest_records
    from cdp.identity.records import parse_line, validate_record
    from cdp.identity.view import assemble_customer
    from cdp.platform import Platform, upgrade_schema
    from cdp.rights import service
    from cdp.rights.package import package_csv

    work = Path(tempfile.mkdtemp(prefix="cdp-dsr-bench-"))
    db = args.db or f"sqlite:///{work / 'cdp.db'}"
    upgrade_schema(db)
    Keyring.generate().save(work / "keyring.json")
    platform = Platform(Config(database_url=db, keyring_path=str(work / "keyring.json"),
                               policy_dir=str(REPO / "policies"), export_dir=str(work / "exports")))
    if args.background:
        recs = work / "bg.jsonl"
        subprocess.run([sys.executable, "-m", "scripts.generate_records", "--people",
                        str(args.background), "--seed", "3", "--out", str(recs)], cwd=REPO,
                       check=True, capture_output=True)
        with recs.open(encoding="utf-8") as fh:
            ingest_records(platform, ((i, parse_line(ln)) for i, ln in enumerate(fh)), actor="bench")
    timings: dict[str, list[float]] = {"baseline": [], "access": [], "deletion": []}
    sizes = []
    for r in range(args.repeat):
        tag = f"{r:04d}"
        ingest_records(platform, ((i, validate_record(x)) for i, x in enumerate(person(args.records, tag))),
                       actor="bench")
        with platform.Session() as s:
            cid = s.scalar(
                select(SourceRecord.customer_id).where(SourceRecord.source_record_id == f"bench-{tag}-0")
            )
            n = s.scalar(
                select(func.count()).select_from(SourceRecord).where(SourceRecord.customer_id == cid)
            )
        assert n == args.records, f"expected {args.records} records on one customer, got {n}"

        t = time.perf_counter()
        with platform.Session() as s:
            assemble_customer(s, platform, cid)
        timings["baseline"].append(time.perf_counter() - t)

        t = time.perf_counter()
        with platform.transaction() as s:
            req = service.create_request(s, platform, cid, "access", actor="bench")
            service.verify_request(s, req, actor="bench")
            service.approve_request(s, platform, req, actor="bench-second")  # four eyes
            out = service.execute_request(s, platform, req, actor="bench")
            # Sealed under a one-time token, then downloaded once (as the subject would).
            package = service.download_package(s, req, out["delivery"]["token"])
            body = json.dumps(package, ensure_ascii=False)
            csv_text = package_csv(package)
        timings["access"].append(time.perf_counter() - t)
        sizes.append((len(body), csv_text.count("\n")))

        t = time.perf_counter()
        with platform.transaction() as s:
            req = service.create_request(s, platform, cid, "deletion", actor="bench")
            service.verify_request(s, req, actor="bench")
            service.approve_request(s, platform, req, actor="bench-second")
            res = service.execute_request(s, platform, req, actor="bench")
        timings["deletion"].append(time.perf_counter() - t)
        assert res["records_deleted"] == args.records and res["retained"] == (args.records + 1) // 2

    med = {k: statistics.median(v) for k, v in timings.items()}
    print(f"one customer with {args.records} source records among {args.background} background people "
          f"({platform.engine.dialect.name}), median of {args.repeat}:")
    print(f"  baseline (assemble the view once): {med['baseline'] * 1000:8.1f} ms")
    print(f"  access package (JSON {sizes[-1][0]:,} bytes + CSV {sizes[-1][1]:,} rows): "
          f"{med['access'] * 1000:8.1f} ms  ({med['access'] / med['baseline']:.1f}x baseline)")
    print(f"  deletion (shred + retain {(args.records + 1) // 2} rx records): "
          f"{med['deletion'] * 1000:8.1f} ms  ({med['deletion'] / med['baseline']:.1f}x baseline)")
    platform.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
