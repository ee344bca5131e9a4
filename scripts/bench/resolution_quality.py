#!/usr/bin/env python
"""End-to-end identity-resolution quality on generated data, through the CLI contract only.

    python scripts/bench/resolution_quality.py --people 10000 --seed 7
    python scripts/bench/resolution_quality.py --people 10000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/cdp_quality

Steps (in a temporary directory):
  1. scripts/generate_records.py  -> records.jsonl + records.jsonl.truth.csv (+ traps)
  2. CDP_DATABASE_URL=sqlite:///<tmp>/cdp.db CDP_KEYRING=<tmp>/keyring.json
     cdp init ; cdp ingest records.jsonl ; cdp identity links  (CSV on stdout)
  3. compare the links with the truth: pairwise precision / recall / F1, clusters that mix
     people, people split over several customers, the ORACLE recall (what linking on
     genuinely shared exact strong identifiers alone would reach, see linkage_metrics) and
     the ratio achieved / oracle, per-trap outcomes, wall times.

With --database-url pointing at PostgreSQL the named database is created fresh with psycopg
(refused if it already exists) and dropped afterwards.

Other options: --records FILE scores an existing generated file (with its .truth.csv and
.traps.csv) instead of generating one; --links CSV scores an existing links export instead of
running the platform; --splink adds (and --splink-only runs just) a generic Splink 5 dedupe
model on the same records as a reference point; --json FILE keeps the metrics.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench.linkage_metrics import (
    mixed_clusters,
    normalise_identifier,
    oracle_clusters,
    pairwise_scores,
    split_people,
)

REPO = Path(__file__).resolve().parents[2]


class CliError(RuntimeError):
    pass


def cdp_command() -> list[str]:
    """The `cdp` console script of this environment (venv first, then PATH)."""
    local = Path(sys.executable).parent / "cdp"
    if local.exists():
        return [str(local)]
    found = shutil.which("cdp")
    if found:
        return [found]
    raise CliError("the `cdp` console script is not installed (pip install -e .)")


def run_cdp(args: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [*cdp_command(), *args]
    proc = subprocess.run(cmd, env=dict(env), cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise CliError(f"`cdp {' '.join(args)}` exited {proc.returncode}:\n" + "\n".join(tail))
    return proc


def _split_pg_url(url: str) -> tuple[str, str]:
    """(libpq conninfo for the server's `postgres` database, database name) of a URL."""
    base, _, dbname = url.rpartition("/")
    dbname = dbname.split("?", 1)[0]
    if not dbname:
        raise SystemExit("--database-url must name a database")
    admin = base.replace("postgresql+psycopg://", "postgresql://", 1) + "/postgres"
    return admin, dbname


@contextmanager
def fresh_database(url: str | None, tmp: Path) -> Iterator[str]:
    """A database URL for one run: SQLite in the temp dir, or a PostgreSQL database created
    now and dropped afterwards."""
    if not url:
        yield f"sqlite:///{tmp / 'cdp.db'}"
        return
    if not url.startswith("postgresql"):
        yield url
        return
    import psycopg
    from psycopg import sql

    admin, dbname = _split_pg_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists:
            raise SystemExit(f"database {dbname!r} already exists; name a fresh one")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )


def platform_links(
    records_path: Path, workdir: Path, database_url: str | None = None
) -> tuple[dict, dict]:
    """Run cdp init / ingest / identity links on ``records_path``.

    Returns ({(source, source_record_id): customer_id}, {step: seconds, "ingest_output": str}).
    """
    timings: dict = {}
    with fresh_database(database_url, workdir) as db_url:
        env = dict(os.environ)
        env.update(
            CDP_DATABASE_URL=db_url,
            CDP_KEYRING=str(workdir / "keyring.json"),
            CDP_POLICY_DIR=str(REPO / "policies"),
        )
        t = time.perf_counter()
        run_cdp(["init"], env, REPO)
        timings["init"] = time.perf_counter() - t
        t = time.perf_counter()
        proc = run_cdp(["ingest", str(records_path)], env, REPO)
        timings["ingest"] = time.perf_counter() - t
        timings["ingest_output"] = proc.stdout.strip()
        t = time.perf_counter()
        proc = run_cdp(["identity", "links"], env, REPO)
        timings["links"] = time.perf_counter() - t
    return parse_links(proc.stdout), timings


def parse_links(text: str) -> dict:
    reader = csv.DictReader(io.StringIO(text))
    need = {"source", "source_record_id", "customer_id"}
    if not reader.fieldnames or not need <= set(reader.fieldnames):
        raise CliError(
            f"`cdp identity links` header is {reader.fieldnames}, expected {sorted(need)}"
        )
    return {(r["source"], r["source_record_id"]): r["customer_id"] for r in reader}


def read_truth(path: Path | str) -> dict:
    with open(path, encoding="utf-8", newline="") as f:
        return {(r["source"], r["source_record_id"]): r["person_id"] for r in csv.DictReader(f)}


def read_records(path: Path | str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                yield obj


def trap_outcomes(traps_csv: Path, predicted: Mapping, truth: Mapping) -> dict[str, dict]:
    """Per trap: how many planted records stayed with their person and how many sit in a
    customer that mixes people."""
    members: dict = defaultdict(list)
    for key, pid in truth.items():
        members[pid].append(key)
    people_in: dict = defaultdict(set)
    for key, pid in truth.items():
        if key in predicted:
            people_in[predicted[key]].add(pid)
    modal: dict = {}
    for pid, keys in members.items():
        c = Counter(predicted.get(k) for k in keys if k in predicted)
        modal[pid] = c.most_common(1)[0][0] if c else None
    out: dict = defaultdict(lambda: {"records": 0, "linkable": 0, "with_person": 0, "in_mixed": 0})
    seen = set()
    with open(traps_csv, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            key = (row["source"], row["source_record_id"])
            if (key, row["trap"]) in seen or key not in truth:
                continue
            seen.add((key, row["trap"]))
            d = out[row["trap"]]
            d["records"] += 1
            pid = truth[key]
            cust = predicted.get(key)
            if len(members[pid]) > 1:  # the person has other records to be linked to
                d["linkable"] += 1
                if cust is not None and cust == modal[pid]:
                    d["with_person"] += 1
            if cust is not None and len(people_in[cust]) > 1:
                d["in_mixed"] += 1
    return dict(out)


# --- Splink baseline ------------------------------------------------------------------------


def splink_features(records_path: Path) -> list[dict]:
    """One flat row per record key (the last re-send wins) for a generic Splink model.

    Only channel-agnostic clean-up a generic tool would do: identifier normalisation
    (normalise_identifier: digits-only phones, lower-case emails; masked values dropped) and a
    ``phone_mask`` column (first 3 + last 4 digits) that lets a masked marketplace phone meet a
    full one. No Chinese-specific name handling, no placeholder list: the model has to learn
    from term frequencies that 13800138000 is worthless.
    """
    rows: dict = {}
    for r in read_records(records_path):
        key = (r.get("source"), r.get("source_record_id"))
        prof = r.get("profile") if isinstance(r.get("profile"), dict) else {}
        row = {
            "unique_id": f"{key[0]}|{key[1]}",
            "name": (prof.get("name") or "").replace(" ", "").lower() or None,
            "birth_date": prof.get("birth_date") or None,
            "address": (prof.get("address") or "").replace(" ", "") or None,
        }
        for col in ID_COLUMNS:
            row[col] = None
        row["phone_mask"] = None
        for ident in r.get("identifiers") or ():
            t, v = ident.get("type"), ident.get("value")
            if not isinstance(v, str):
                continue
            if t == "phone":
                digits = "".join(c for c in v if c.isdigit() or c == "*")
                if len(digits) >= 11:
                    row["phone_mask"] = digits[-11:-8] + digits[-4:]
            norm = normalise_identifier(t, v) if t != "phone" else normalise_phone_generic(v)
            if norm is None:
                continue
            if t in ("platform_user_id", "wechat_openid"):
                norm = f"{key[0]}|{norm}"
            if t in ID_COLUMNS and row[t] is None:
                row[t] = norm
        rows[key] = row
    return list(rows.values())


ID_COLUMNS = (
    "phone",
    "email",
    "national_id",
    "passport",
    "member_id",
    "wechat_unionid",
    "wechat_openid",
    "platform_user_id",
    "device_id",
)


def normalise_phone_generic(value: str) -> str | None:
    """Digits of a full mobile number; placeholders are *kept* (a generic tool can't know)."""
    if "*" in value:
        return None
    digits = "".join(c for c in value if c.isdigit())
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if len(digits) == 11 else None


def run_splink_baseline(records_path: Path, threshold: float = 0.9, seed: int = 42) -> tuple:
    """A generic Splink 5 dedupe model over the records; ({key: cluster}, seconds)."""
    import logging

    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    t0 = time.perf_counter()
    df = pd.DataFrame(splink_features(records_path))
    strong = ("national_id", "passport", "member_id", "wechat_unionid", "email")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            *(cl.ExactMatch(c) for c in strong),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            cl.ExactMatch("platform_user_id"),
            cl.ExactMatch("wechat_openid"),
            cl.ExactMatch("device_id"),
            cl.ExactMatch("phone_mask").configure(term_frequency_adjustments=True),
            cl.NameComparison("name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.85]),
        ],
        blocking_rules_to_generate_predictions=[
            *(block_on(c) for c in (*strong, "phone", "platform_user_id", "wechat_openid")),
            block_on("phone_mask"),
            block_on("name", "birth_date"),
            block_on("name", "address"),
        ],
    )
    linker = Linker(DuckDBAPI().register(df), settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("national_id"), block_on("member_id"), block_on("wechat_unionid")], recall=0.5
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=seed)
    for col in ("name", "phone_mask", "birth_date"):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(col))
        except ValueError as e:  # Splink 5 refuses an m that underflows to 0.0
            print(
                f"splink: EM pass blocked on {col} skipped: {str(e).split('.')[0]}", file=sys.stderr
            )
    pred = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold)
    cdf = clusters.as_pandas_dataframe()
    predicted = {
        tuple(uid.split("|", 1)): cid
        for uid, cid in zip(cdf["unique_id"], cdf["cluster_id"], strict=True)
    }
    return predicted, time.perf_counter() - t0


def evaluate(records_path: Path, predicted: Mapping, truth: Mapping) -> dict:
    scores = pairwise_scores(predicted, truth)
    oracle = oracle_clusters(read_records(records_path), truth)
    oracle_scores = pairwise_scores(oracle, truth)
    return {
        "records": len(truth),
        "people": len(set(truth.values())),
        "customers": len({predicted[k] for k in truth if k in predicted}),
        "pairwise": scores.as_dict(),
        "mixed_clusters": mixed_clusters(predicted, truth),
        "people_split": split_people(predicted, truth),
        "oracle_recall": oracle_scores.recall,
        "recall_vs_oracle": scores.recall / oracle_scores.recall if oracle_scores.recall else None,
    }


def format_report(m: dict, timings: dict, label: str) -> str:
    p = m["pairwise"]
    lines = [f"identity resolution quality — {label}"]
    lines.append(
        f"  records {m['records']:,}  people {m['people']:,}  customers {m['customers']:,}"
        f"  (missing from links: {p['missing']:,})"
    )
    lines.append(
        f"  pairwise precision {p['precision']:.4f}  recall {p['recall']:.4f}  F1 {p['f1']:.4f}"
        f"  (true pairs {p['true_pairs']:,}, TP {p['true_positives']:,},"
        f" FP {p['false_positives']:,}, FN {p['false_negatives']:,})"
    )
    lines.append(
        f"  customers mixing people {m['mixed_clusters']:,}   people split over customers"
        f" {m['people_split']:,}"
    )
    if m["recall_vs_oracle"] is not None:
        lines.append(
            f"  oracle recall (exact genuine strong identifiers only) {m['oracle_recall']:.4f}"
            f"   achieved / oracle {m['recall_vs_oracle']:.3f}"
        )
    if timings:
        t = "  ".join(f"{k} {v:.1f}s" for k, v in timings.items() if isinstance(v, float))
        if timings.get("ingest"):
            t += f"  (ingest {m['records'] / timings['ingest']:,.0f} records/s)"
        lines.append(f"  wall time: {t}")
    traps = m.get("traps")
    if traps:
        lines.append(
            "  traps: records | of those whose person has other records, how many sit in the"
            " person's main customer | records inside a customer mixing people"
        )
        for name, d in sorted(traps.items()):
            share = d["with_person"] / d["linkable"] if d["linkable"] else 0.0
            lines.append(
                f"    {name:<20} {d['records']:>7,} | with person {d['with_person']:>7,}"
                f"/{d['linkable']:<7,} ({share:6.1%}) | in mixed {d['in_mixed']:>6,}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--database-url", help="PostgreSQL URL of a database to create for the run")
    ap.add_argument("--malformed", type=int, default=0, help="malformed lines to mix in")
    ap.add_argument(
        "--records",
        type=Path,
        help="use this generated JSONL (with its .truth.csv / .traps.csv) instead of generating",
    )
    ap.add_argument(
        "--links",
        type=Path,
        help="score this `cdp identity links` CSV instead of running the platform",
    )
    ap.add_argument(
        "--splink",
        action="store_true",
        help="also score a generic Splink 5 dedupe model on the same records (reference)",
    )
    ap.add_argument(
        "--splink-only", action="store_true", help="only the Splink reference, no platform run"
    )
    ap.add_argument("--json", type=Path, help="also write the metrics as JSON here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)
    from scripts.bench.procstat import print_machine

    print_machine()

    from scripts.generate_records import generate

    tmp = Path(tempfile.mkdtemp(prefix="cdp-quality-"))
    try:
        timings: dict = {}
        if args.records:
            records = args.records.resolve()
            label = f"{records.name}"
        else:
            records = tmp / "records.jsonl"
            t = time.perf_counter()
            stats = generate(args.people, args.seed, records, malformed=args.malformed)
            timings["generate"] = time.perf_counter() - t
            print(stats.summary(records), file=sys.stderr)
            label = f"{args.people:,} generated people, seed {args.seed}"
        truth = read_truth(f"{records}.truth.csv")
        traps_csv = Path(f"{records}.traps.csv")
        if args.splink or args.splink_only:
            sp_pred, sp_seconds = run_splink_baseline(records)
            sp = evaluate(records, sp_pred, truth)
            if traps_csv.exists():
                sp["traps"] = trap_outcomes(traps_csv, sp_pred, truth)
            print(format_report(sp, {"splink": sp_seconds}, f"{label}, Splink 5 reference"))
            if args.splink_only:
                return 0
        ingest_output = ""
        if args.links:
            predicted = parse_links(args.links.read_text(encoding="utf-8"))
            label += f", links from {args.links.name}"
        else:
            try:
                predicted, cli_times = platform_links(records, tmp, args.database_url)
            except CliError as e:
                print(f"platform run failed: {e}", file=sys.stderr)
                return 2
            ingest_output = cli_times.pop("ingest_output", "")
            timings.update(cli_times)
            pg = (args.database_url or "").startswith("postgresql")
            label += ", postgresql" if pg else ", sqlite"
        m = evaluate(records, predicted, truth)
        if traps_csv.exists():
            m["traps"] = trap_outcomes(traps_csv, predicted, truth)
        if ingest_output:
            print(f"cdp ingest: {ingest_output.splitlines()[-1]}")
        print(format_report(m, timings, label))
        if args.json:
            args.json.write_text(json.dumps({"metrics": m, "timings": timings}, indent=2))
        return 0
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
