"""Exports end to end on ingested data: nothing identifying leaves, k holds, pseudonyms behave,
consent and erasure are honoured, downloads are the recipient's own and audited."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cdp.audit.models import AuditEvent
from cdp.crypto.blind_index import keyed_pseudonym
from cdp.exports import manifest
from cdp.exports.models import ExportRun
from cdp.exports.profiles import load_profile
from cdp.exports.runner import newest_consents, run_export
from cdp.identity.models import Customer
from cdp.platform import Platform
from cdp.policyfiles import PolicyFiles
from tests.conftest import POLICY_DIR
from tests.exports.data import direct_values, generated_records, ingest, register_sensitive

PEOPLE = 120


@pytest.fixture
def loaded(platform: Platform) -> list[dict]:
    records = generated_records(PEOPLE, 11)
    register_sensitive(direct_values(records))
    ingest(platform, records)
    return records


def _all_text(directory: Path) -> str:
    """Every byte a recipient gets, as text (Parquet decoded, since it is compressed)."""
    parts = []
    for f in sorted(directory.iterdir()):
        if f.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(f).to_pylist(), ensure_ascii=False))
            parts.append(f.read_bytes().decode("latin-1"))
        else:
            parts.append(f.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _rows(directory: Path, profile: str) -> list[dict]:
    p = directory / f"{profile}.csv"
    if p.exists():
        return list(csv.DictReader(p.open(encoding="utf-8")))
    p = directory / f"{profile}.jsonl"
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]


def test_no_direct_identifier_or_dropped_value_in_any_file(platform: Platform, loaded: list[dict]) -> None:
    values = direct_values(loaded)
    dropped = set()
    for r in loaded:  # bi_weekly drops name, phone and national id; reco drops email
        for i in r.get("identifiers", []):
            if i["type"] in ("phone", "national_id", "email"):
                dropped.add(str(i["value"]).strip())
        if (r.get("profile") or {}).get("name"):
            dropped.add(r["profile"]["name"])
    for prof in ("bi_weekly", "reco_daily", "research_quarterly"):
        res = run_export(platform, prof)
        text = _all_text(res.directory)
        leaked = sorted(v for v in values | dropped if v in text)
        assert leaked == [], f"{prof}: {len(leaked)} identifying values in the export"
        # and the raw ingest digits of phones, however formatted
        digits = {"".join(ch for ch in v if ch.isdigit()) for v in values}
        assert not [d for d in digits if len(d) >= 11 and d in text]
        profile = load_profile(PolicyFiles(POLICY_DIR), prof)
        rows = _rows(res.directory, prof)
        assert len(rows) == res.rows
        qi = [f.name for f in profile.quasi_identifiers]
        classes = Counter(tuple(r[c] for c in qi) for r in rows)
        assert not classes or min(classes.values()) >= profile.k
        doc = json.loads(res.manifest_path.read_text())
        assert manifest.verify(doc, platform.keyring.verify_key_bytes(), res.directory)
        assert doc["manifest"]["k_reached"] == (min(classes.values()) if classes else None)
        assert doc["manifest"]["suppressed"] == res.suppressed


def test_pseudonyms_differ_across_recipients_and_are_stable_across_runs(
        platform: Platform, loaded: list[dict]) -> None:
    bi1 = run_export(platform, "bi_weekly")
    bi2 = run_export(platform, "bi_weekly")
    reco = run_export(platform, "reco_daily")
    bi_ids = {r["customer"] for r in _rows(bi1.directory, "bi_weekly")}
    assert bi_ids == {r["customer"] for r in _rows(bi2.directory, "bi_weekly")}
    reco_ids = {r["customer"] for r in _rows(reco.directory, "reco_daily")}
    assert bi_ids and reco_ids and not bi_ids & reco_ids
    # The same customer, as each recipient sees them.
    bi_key = platform.keyring.pseudonym_key("export/bi_team")
    reco_key = platform.keyring.pseudonym_key("export/reco_engine")
    with platform.Session() as s:
        cids = list(s.scalars(select(Customer.id).where(Customer.status == "active")))
    both = [c for c in cids if keyed_pseudonym(bi_key, f"customer_id|{c}") in bi_ids
            and keyed_pseudonym(reco_key, f"customer_id|{c}") in reco_ids]
    assert both, "expected a customer in both exports"
    for c in both:
        assert keyed_pseudonym(bi_key, f"customer_id|{c}") != keyed_pseudonym(reco_key, f"customer_id|{c}")


def test_only_consenting_active_customers_and_incremental_removals(
        platform: Platform, loaded: list[dict]) -> None:
    from cdp.rights.service import withdraw_consent

    first = run_export(platform, "bi_weekly", mode="incremental")
    key = platform.keyring.pseudonym_key("export/bi_team")
    exported = {r["customer"] for r in _rows(first.directory, "bi_weekly")}
    with platform.Session() as s:
        ids = list(s.scalars(select(Customer.id).where(Customer.status == "active")))
        # bi_weekly has no consent gate; an objection to profiling keeps a customer out.
        objected = newest_consents(s, ids, "profiling")
    granted = [c for c in ids if objected.get(c) is not False]
    refused = [c for c in ids if objected.get(c) is False]
    assert refused, "the generated records hold profiling objections"
    pseud = {c: keyed_pseudonym(key, f"customer_id|{c}") for c in ids}
    assert not {pseud[c] for c in refused} & exported
    assert len(exported) + first.suppressed == len(granted)
    target = next(c for c in granted if pseud[c] in exported)
    restricted = next(c for c in granted if c != target and pseud[c] in exported)
    with platform.transaction() as s:
        withdraw_consent(s, target, ["profiling"])
        s.get(Customer, restricted).status = "restricted"
    inc = run_export(platform, "bi_weekly", mode="incremental")
    removed = (inc.directory / "removed.csv").read_text().split()
    assert pseud[target] in removed and pseud[restricted] in removed
    inc_ids = {r["customer"] for r in _rows(inc.directory, "bi_weekly")}
    assert pseud[target] not in inc_ids and pseud[restricted] not in inc_ids
    doc = json.loads(inc.manifest_path.read_text())["manifest"]
    assert doc["mode"] == "incremental" and doc["since"] == first_watermark(platform, first.run_id)
    # Only what changed: the two customers left, nobody else was re-sent.
    assert doc["candidates"] == 0 and doc["removed"] == 2
    full = run_export(platform, "bi_weekly")
    now_ids = {r["customer"] for r in _rows(full.directory, "bi_weekly")}
    assert pseud[target] not in now_ids and pseud[restricted] not in now_ids
    assert len(now_ids) >= len(exported) - 2 - full.suppressed


def first_watermark(platform: Platform, run_id: str) -> str:
    with platform.Session() as s:
        return s.get(ExportRun, run_id).watermark.isoformat()


def test_cli_prints_manifest_path(cli_env: dict, platform: Platform, loaded: list[dict]) -> None:
    from cdp.cli import cli

    res = CliRunner().invoke(cli, ["export", "run", "reco_daily"], env=cli_env)
    assert res.exit_code == 0, res.output
    path = Path(res.stdout.strip().splitlines()[0])
    assert path.name == "manifest.json" and path.is_file()
    bad = CliRunner().invoke(cli, ["export", "run", "no_such_profile"], env=cli_env)
    assert bad.exit_code == 2 and "no such export profile" in bad.output
    ok = CliRunner().invoke(cli, ["export", "verify", str(path)], env=cli_env)
    assert ok.exit_code == 0 and "manifest ok" in ok.stdout
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    # A recipient-side change to a file (or the manifest) is detected.
    data = path.parent / "reco_daily.jsonl"
    data.chmod(0o600)
    data.write_text(data.read_text() + '{"customer": "forged"}\n')
    tampered = CliRunner().invoke(cli, ["export", "verify", str(path)], env=cli_env)
    assert tampered.exit_code == 1 and "INVALID" in tampered.stdout


def test_http_runs_are_the_recipients_own_streamed_and_audited(
        app, client, platform: Platform, loaded: list[dict]) -> None:  # type: ignore[no-untyped-def]
    from cdp.access.apikeys import create_key

    bi = run_export(platform, "bi_weekly")
    reco = run_export(platform, "reco_daily")
    with platform.transaction() as s:
        _, bi_key = create_key(s, "export_service", "bi_team")
        _, reco_key = create_key(s, "export_service", "reco_engine")
        _, analyst = create_key(s, "analyst", "bi_team")
    h_bi = {"Authorization": f"Bearer {bi_key}"}
    h_reco = {"Authorization": f"Bearer {reco_key}"}
    listing = client.get("/v1/exports/runs", headers=h_bi)
    assert listing.status_code == 200
    assert [r["run_id"] for r in listing.json["runs"]] == [bi.run_id]
    assert [r["run_id"] for r in client.get("/v1/exports/runs", headers=h_reco).json["runs"]] == [reco.run_id]
    # Another recipient's run does not exist for you.
    assert client.get(f"/v1/exports/runs/{bi.run_id}", headers=h_reco).status_code == 404
    assert client.get(f"/v1/exports/runs/{bi.run_id}/files/bi_weekly.csv", headers=h_reco).status_code == 404
    # Other roles, no key: refused.
    assert client.get("/v1/exports/runs", headers={"Authorization": f"Bearer {analyst}"}).status_code == 403
    assert client.get("/v1/exports/runs").status_code == 401
    # Path games are 404, not a file from elsewhere.
    escape = f"/v1/exports/runs/{bi.run_id}/files/..%2F..%2Fkeyring.json"
    assert client.get(escape, headers=h_bi).status_code == 404
    resp = client.get(f"/v1/exports/runs/{bi.run_id}/files/bi_weekly.parquet", headers=h_bi)
    assert resp.status_code == 200 and resp.is_streamed
    body = resp.get_data()
    assert hashlib.sha256(body).hexdigest() == resp.headers["X-Content-SHA256"]
    assert pq.read_table(io.BytesIO(body)).num_rows == bi.rows
    mresp = client.get(f"/v1/exports/runs/{bi.run_id}/files/manifest.json", headers=h_bi)
    key = client.get("/v1/exports/signing-key", headers=h_bi).json["public_key"]
    import base64

    assert manifest.verify(json.loads(mresp.get_data()), base64.b64decode(key))
    with platform.Session() as s:
        actions = Counter(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("export.%"))))
    assert actions["export.run"] == 2 and actions["export.list"] >= 2 and actions["export.download"] == 2
    # A revoked key downloads nothing more.
    from cdp.access.apikeys import revoke_key

    with platform.transaction() as s:
        revoke_key(s, bi_key.split("_")[1])
    assert client.get(f"/v1/exports/runs/{bi.run_id}/files/bi_weekly.csv", headers=h_bi).status_code == 401


def test_incremental_run_exports_only_what_changed(platform: Platform) -> None:
    records = generated_records(PEOPLE, 11)
    register_sensitive(direct_values(records))
    first_half = [r for r in records if r["source"] != "app"]
    ingest(platform, first_half)
    full = run_export(platform, "research_quarterly", mode="incremental")
    assert json.loads(full.manifest_path.read_text())["manifest"]["since"] is None  # first: full
    nothing = run_export(platform, "research_quarterly", mode="incremental")
    doc = json.loads(nothing.manifest_path.read_text())["manifest"]
    assert doc["candidates"] == 0 and doc["rows"] == 0 and doc["removed"] == 0
    # New app records arrive: only their customers are candidates next time.
    app = [r for r in records if r["source"] == "app"]
    ingest(platform, app)
    with platform.Session() as s:
        from cdp.identity.models import SourceRecord

        touched = set(s.scalars(select(SourceRecord.customer_id).where(SourceRecord.source == "app")))
        consent = newest_consents(s, list(touched), "research")
        objected = newest_consents(s, list(touched), "profiling")
    inc = run_export(platform, "research_quarterly", mode="incremental")
    doc = json.loads(inc.manifest_path.read_text())["manifest"]
    assert doc["candidates"] == sum(1 for c in touched if consent.get(c) and objected.get(c) is not False)
    assert 0 < doc["candidates"] < len(touched) + 1


def test_health_data_goes_only_to_customers_with_the_separate_consent(
    platform: Platform, tmp_path: Path
) -> None:
    import shutil
    from dataclasses import replace

    records = generated_records(PEOPLE, 11)
    register_sensitive(direct_values(records))
    ingest(platform, records)
    policies = tmp_path / "pol"
    shutil.copytree(POLICY_DIR, policies)
    (policies / "exports" / "health.toml").write_text(
        'recipient = "care_team"\npurpose = "marketing"\nhealth_consent_purpose = "marketing_health"\n'
        'k = 2\n[[fields]]\nname = "c"\nsource = "customer_id"\ntransform = "pseudonym"\n'
        '[[fields]]\nsource = "rx_order_count"\ntransform = "keep"\n')
    p2 = Platform(replace(platform.config, policy_dir=str(policies)))
    try:
        res = run_export(p2, "health")
    finally:
        p2.dispose()
    key = platform.keyring.pseudonym_key("export/care_team")
    with platform.Session() as s:
        ids = list(s.scalars(select(Customer.id).where(Customer.status == "active")))
        mk = newest_consents(s, ids, "marketing")
        hm = newest_consents(s, ids, "marketing_health")
        objected = newest_consents(s, ids, "profiling")
    both = {keyed_pseudonym(key, f"customer_id|{c}") for c in ids
            if mk.get(c) and hm.get(c) and objected.get(c) is not False}
    only_marketing = {keyed_pseudonym(key, f"customer_id|{c}") for c in ids if mk.get(c) and not hm.get(c)}
    got = {r["c"] for r in _rows(res.directory, "health")}
    assert got == both and only_marketing and not got & only_marketing


def _shared_cache_sizes(platform: Platform) -> dict[str, int]:
    from cdp.identity import normalize as nz

    sizes = {name: fn.cache_info().currsize for name, fn in vars(nz).items()
             if callable(fn) and hasattr(fn, "cache_info")}
    sizes["data keys"] = len(platform.keys._cache)
    return sizes


def _clear_shared_caches(platform: Platform) -> None:
    from cdp.identity import normalize as nz

    for fn in vars(nz).values():
        if callable(fn) and hasattr(fn, "cache_clear"):
            fn.cache_clear()
    platform.keys._cache.clear()


def test_a_run_reads_without_filling_the_process_wide_caches(
        platform: Platform, loaded: list[dict]) -> None:
    """A run reads every customer once, so it memoises their data keys and normal forms per
    page: the process-wide caches, which it would otherwise fill up to their caps (memory
    growing with the rows read), stay as they were, and the rows are the same as through them."""
    from cdp.exports.rows import customer_row
    from cdp.exports.runner import iter_eligible_rows
    from cdp.identity.view import assemble_customers

    _clear_shared_caches(platform)
    before = _shared_cache_sizes(platform)
    assert set(before.values()) == {0} and len(before) >= 9
    profile = load_profile(PolicyFiles(POLICY_DIR), "bi_weekly")
    rows = list(iter_eligible_rows(platform, profile, batch=25))
    res = run_export(platform, "bi_weekly")
    assert rows and res.rows > 0
    assert _shared_cache_sizes(platform) == before
    # The same rows as an ordinary read through the shared caches (which it fills).
    with platform.Session() as s:
        views = assemble_customers(s, platform, [r["customer_id"] for r in rows])
    assert [customer_row(views[r["customer_id"]]) for r in rows] == rows
    after = _shared_cache_sizes(platform)
    assert after["data keys"] > 0 and after["name_kind"] > 0  # the golden record ranks names


def test_private_memo_is_private_to_its_block() -> None:
    from cdp.identity import normalize as nz

    shared = nz.normalize_phone("138 0013 8000")
    nz.normalize_phone.cache_clear()
    nz.normalize_name.cache_clear()
    with nz.private_memo():
        assert nz.normalize_phone("138 0013 8000") == shared
        assert nz.normalize_phone("138 0013 8000") is nz.normalize_phone("138 0013 8000")
        with pytest.raises(RuntimeError), nz.private_memo():
            nz.normalize_phone("139 0013 8000")
            raise RuntimeError("leaves the inner block")
        assert nz.normalize_name("王小明") == nz.normalize_name.__wrapped__("王小明")
    assert nz.normalize_phone.cache_info().currsize == 0
    assert nz.normalize_name.cache_info().currsize == 0
    assert nz.normalize_phone("138 0013 8000") == shared
    assert nz.normalize_phone.cache_info().currsize == 1
