"""`cdp crm ...`: refresh, adherence, clv fit, reminders (CONTRACT §2). Each command owns
its transaction; every list of personal data it produces is audited in that transaction."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, date, datetime

import click
import numpy as np

from cdp.audit.log import AuditEntry, record
from cdp.crm.settings import load_settings

CLI_ACTOR = "cli"


def _date(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("must be a date YYYY-MM-DD", param=param) from None


@click.group()
def crm() -> None:
    """Customer relationship: traits, segments, churn and value, adherence, loyalty."""


@crm.command("refresh")
@click.option("--as-of", callback=_date, default=None, help="compute as of this day (YYYY-MM-DD)")
def refresh_cmd(as_of: date | None) -> None:
    """Compute CRM traits, segments, scores, adherence and reminders now."""
    from cdp.commandline import get_platform
    from cdp.crm.refresh import refresh

    platform = get_platform()
    with platform.transaction() as session:
        rep = refresh(session, platform, as_of, actor=CLI_ACTOR)
    click.echo(
        f"crm refresh as of {rep.as_of}: {rep.customers} customers, {rep.profiles} profiles, "
        f"{rep.scored} scored, {rep.profiling_objections} objecting to profiling; segments "
        f"+{rep.segments_entered}/-{rep.segments_left}; points: {rep.points_accrued} accrued, "
        f"{rep.points_adjusted} adjusted, {rep.points_expired} expired; "
        f"{rep.complaints_opened} complaints opened, {rep.care_tasks_created} care tasks"
    )
    click.echo(json.dumps({"seconds": rep.seconds, "bg_nbd": rep.bg_nbd}), err=True)


@crm.command("adherence")
@click.option("--year", type=click.IntRange(1900, 2999), required=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), required=True)
def adherence_cmd(year: int, output: str) -> None:
    """Proportion of days covered per customer and class (PQA), as CSV."""
    from cdp.commandline import get_platform
    from cdp.crm.adherence import adherence
    from cdp.crm.facts import iter_facts
    from cdp.crm.traits import fills_of

    platform = get_platform()
    settings = load_settings(platform.policies)
    end = date(year, 12, 31)
    rows = 0
    with platform.transaction() as session, open(output, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "class", "fills", "pdc", "adherent"])
        entries = []
        for f in iter_facts(session, platform, settings):
            res = adherence(fills_of(f.orders, settings, end), settings.class_prefixes, year,
                            settings.adherence_threshold)
            for a in res:
                w.writerow([f.customer_id, a.cls, a.fills, f"{a.pdc:.4f}", "true" if a.adherent else "false"])
                rows += 1
            if res:
                entries.append(AuditEntry(actor=CLI_ACTOR, action="crm.adherence.export",
                                          customer_id=f.customer_id, categories=("health",),
                                          view={"health": "plain"}, detail={"year": year}))
        record(session, *entries)
    click.echo(f"{rows} rows written", err=True)


@crm.group("clv")
def clv_group() -> None:
    """Customer lifetime value models."""


@clv_group.command("fit")
@click.option("--calibration-end", callback=_date, required=True)
@click.option("--holdout-end", callback=_date, default=None)
@click.option("--time-unit", type=click.Choice(["weeks", "days"]), default="weeks", show_default=True)
def clv_fit_cmd(calibration_end: date, holdout_end: date | None, time_unit: str) -> None:
    """Fit BG/NBD on purchases up to the calibration end; print one JSON line."""
    from cdp.commandline import get_platform
    from cdp.crm import clv, gates
    from cdp.crm.facts import iter_facts
    from cdp.crm.refresh import DAYS_PER_UNIT
    from cdp.crm.traits import purchase_days

    if holdout_end is not None and holdout_end <= calibration_end:
        raise click.BadParameter("must be after --calibration-end", param_hint="--holdout-end")
    platform = get_platform()
    settings = load_settings(platform.policies)
    unit = DAYS_PER_UNIT[time_unit]
    xs, txs, Ts, holdout = [], [], [], []
    with platform.transaction() as session:
        consents = gates.newest_consents(session, None, (gates.PROFILING,))
        for f in iter_facts(session, platform, settings):
            if gates.objects_to_profiling(consents.get(f.customer_id, {})):
                continue
            days = purchase_days(f.orders, holdout_end or calibration_end).days
            cal = [d for d in days if d <= calibration_end]
            if not cal:
                continue
            xs.append(len(cal) - 1)
            txs.append((cal[-1] - cal[0]).days / unit)
            Ts.append((calibration_end - cal[0]).days / unit)
            holdout.append(sum(1 for d in days if d > calibration_end))
        record(session, AuditEntry(actor=CLI_ACTOR, action="crm.clv_fit", detail={
            "customers": len(xs), "calibration_end": calibration_end.isoformat()}))
    if not xs:
        raise click.ClickException("no customer bought before the calibration end")
    x, tx, T = np.array(xs, float), np.array(txs, float), np.array(Ts, float)
    p = clv.fit_bgnbd(x, tx, T)
    out = {"model": "bg_nbd", "time_unit": time_unit, "customers": len(xs),
           "r": round(p.r, 6), "alpha": round(p.alpha, 6), "a": round(p.a, 6), "b": round(p.b, 6),
           "log_likelihood": round(p.log_likelihood, 4), "holdout": None}
    if holdout_end is not None:
        t = (holdout_end - calibration_end).days / unit
        out["holdout"] = {"actual": int(sum(holdout)),
                          "predicted": round(float(clv.expected_purchases(p, t, x, tx, T).sum()), 2)}
    sys.stdout.write(json.dumps(out) + "\n")


@crm.command("reminders")
@click.option("--due-within", type=click.IntRange(0, 366), required=True, help="days ahead")
@click.option("--as-of", callback=_date, default=None, help="today (YYYY-MM-DD)")
def reminders_cmd(due_within: int, as_of: date | None) -> None:
    """Refills due, for customers with care_reminders consent (CSV on stdout; audited)."""
    from cdp.commandline import get_platform
    from cdp.crm.reads import refill_reminders
    from cdp.crm.refresh import today

    platform = get_platform()
    settings = load_settings(platform.policies)
    day = as_of or today(settings)
    with platform.transaction() as session:
        rows = refill_reminders(session, platform, settings, day, due_within)
        record(session, *[
            AuditEntry(actor=CLI_ACTOR, action="crm.reminders.list", customer_id=cid,
                       categories=("health",), view={"health": "plain"}, purpose="pharmacy_care",
                       detail={"due_within": due_within})
            for cid in sorted({r["customer_id"] for r in rows})
        ], AuditEntry(actor=CLI_ACTOR, action="crm.reminders", purpose="pharmacy_care",
                      detail={"rows": len(rows), "due_within": due_within,
                              "at": datetime.now(UTC).isoformat()}))
    w = csv.writer(sys.stdout)
    w.writerow(["customer_id", "class", "atc", "due", "last_fill", "long_supply"])
    for r in rows:
        w.writerow([r["customer_id"], r["class"], r["atc"], r["due"], r["last_fill"],
                    "true" if r["long_supply"] else "false"])
