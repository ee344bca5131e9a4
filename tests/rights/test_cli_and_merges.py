"""`cdp dsr` from the command line, and erasure of a customer that absorbed others."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from cdp.cli import cli
from cdp.identity.models import Customer, SourceRecord
from cdp.platform import Platform
from tests.exports.data import ingest, register_sensitive
from tests.rights.test_dsr import NID, SECRETS, _customer_of, person_records


def test_cli_access_package_then_deletion(platform: Platform, cli_env: dict, tmp_path: Path) -> None:
    register_sensitive(SECRETS)
    ingest(platform, person_records())
    cid = _customer_of(platform, "jd-dsr-1")
    run = CliRunner()
    req = run.invoke(cli, ["dsr", "create", cid, "access"], env=cli_env)
    assert req.exit_code == 0, req.output
    rid = req.stdout.strip()
    # Not before verification.
    early = run.invoke(cli, ["dsr", "execute", rid], env=cli_env)
    assert early.exit_code == 2 and "verified" in early.output
    assert run.invoke(cli, ["dsr", "verify", rid, "--method", "in_person"], env=cli_env).exit_code == 0
    # Four eyes: not without a second person's approval, and not by the approver.
    alone = run.invoke(cli, ["dsr", "execute", rid], env=cli_env)
    assert alone.exit_code == 2 and "approval" in alone.output
    assert run.invoke(cli, ["dsr", "approve", rid, "--actor", "second"], env=cli_env).exit_code == 0
    same = run.invoke(cli, ["dsr", "execute", rid, "--actor", "second"], env=cli_env)
    assert same.exit_code == 2 and "second person" in same.output
    out = run.invoke(cli, ["dsr", "execute", rid], env=cli_env)
    assert out.exit_code == 0, out.output
    assert NID not in out.output  # a token, not the package
    token = json.loads(out.stdout)["delivery"]["token"]
    got = run.invoke(cli, ["dsr", "download", rid, "--token-stdin", "--out", str(tmp_path / "p")],
                     env=cli_env, input=token + "\n")
    assert got.exit_code == 0, got.output
    pkg = Path(got.stdout.strip())
    assert NID in pkg.read_text() and NID in (pkg.parent / "package.csv").read_text()
    assert stat.S_IMODE(os.stat(pkg).st_mode) == 0o600
    # Once only.
    again = run.invoke(cli, ["dsr", "download", rid, "--token-stdin", "--out", str(tmp_path / "q")],
                       env=cli_env, input=token + "\n")
    assert again.exit_code == 2 and not (tmp_path / "q").exists()
    d = run.invoke(cli, ["dsr", "create", cid, "deletion"], env=cli_env).stdout.strip()
    run.invoke(cli, ["dsr", "verify", d], env=cli_env)
    run.invoke(cli, ["dsr", "approve", d, "--actor", "second"], env=cli_env)
    res = run.invoke(cli, ["dsr", "execute", d], env=cli_env)
    assert res.exit_code == 0 and json.loads(res.stdout)["retained"] == 1
    listing = run.invoke(cli, ["dsr", "list"], env=cli_env)
    assert listing.stdout.count("completed") == 2
    again = run.invoke(cli, ["dsr", "create", cid, "access"], env=cli_env)
    assert again.exit_code == 2 and "erased" in again.output
    assert NID not in again.output
    # Every step was audited, and the log is still intact.
    from cdp.audit.models import AuditEvent

    with platform.Session() as s:
        actions = set(s.scalars(select(AuditEvent.action).where(AuditEvent.customer_id == cid)))
    assert {"dsr.receive", "dsr.verify", "dsr.approve", "dsr.access_package",
            "dsr.package_download", "dsr.delete"} <= actions
    assert run.invoke(cli, ["audit", "verify"], env=cli_env).exit_code == 0


def test_erasing_a_survivor_erases_the_customers_it_absorbed(  # type: ignore[no-untyped-def]
    platform: Platform, client, make_api_key
) -> None:
    register_sensitive(SECRETS)
    recs = person_records()
    # Two records that only meet through a later one: ingest apart, so one customer absorbs another.
    ingest(platform, [recs[1]])
    ingest(platform, [recs[2]])
    ingest(platform, [recs[0]])
    survivor = _customer_of(platform, "jd-dsr-1")
    with platform.Session() as s:
        everyone = list(s.scalars(select(Customer)))
    from cdp.rights.erasure import erase_customer

    with platform.transaction() as s:
        res = erase_customer(s, platform, survivor, rx_keep=__import__("datetime").timedelta(days=1827),
                             actor="test")
    with platform.Session() as s:
        assert all(s.get(Customer, c.id).status == "erased" for c in everyone)
        assert s.scalar(select(SourceRecord)) is None
    assert res.records_deleted == 3
    h = make_api_key("customer_service", "customer_support")
    for c in everyone:
        body = client.get(f"/v1/customers/{c.id}", headers=h).get_data(as_text=True)
        assert not [v for v in SECRETS if v in body]


def test_kept_record_moved_to_another_row_does_not_open(platform: Platform) -> None:
    from datetime import timedelta

    import pytest

    from cdp.errors import DecryptionError
    from cdp.rights.erasure import erase_customer, read_retained
    from cdp.rights.models import RetainedRecord

    register_sensitive(SECRETS)
    ingest(platform, person_records("-x"))
    ingest(platform, person_records("-y"))
    a, b = _customer_of(platform, "jd-dsr-1-x"), _customer_of(platform, "jd-dsr-1-y")
    # Same phone and ID number: both sends resolve to one customer with two rx sales.
    with platform.transaction() as s:
        for cid in {a, b}:
            erase_customer(s, platform, cid, rx_keep=timedelta(days=1827), actor="test")
    with platform.transaction() as s:
        rows = list(s.scalars(select(RetainedRecord).order_by(RetainedRecord.id)))
        assert len(rows) == 2
        # An insider swaps the ciphertexts between the two rows.
        rows[0].payload_ct, rows[1].payload_ct = rows[1].payload_ct, rows[0].payload_ct
    with platform.Session() as s, pytest.raises(DecryptionError):
        read_retained(s, platform, rows[0].customer_id)
