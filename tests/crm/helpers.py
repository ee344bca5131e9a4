"""Records for the CRM tests: one person per record, built by hand, ingested through the API."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from cdp.cli import cli
from tests.access.fixtures import ingest

_n = 0


def person(
    orders: list[dict[str, Any]],
    *,
    consents: dict[str, bool] | None = None,
    source: str = "jd_health",
    consent_at: str = "2025-01-01T00:00:00+08:00",
    interactions: list[dict[str, Any]] | None = None,
    profile: dict[str, Any] | None = None,
    record_id: str | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """A source record of a new person (own phone) with these orders and consents."""
    global _n
    _n += 1
    rec: dict[str, Any] = {
        "source": source,
        "source_record_id": record_id or f"crm-{_n}",
        "observed_at": "2025-01-01T00:00:00+08:00",
        "identifiers": [{"type": "phone", "value": phone or f"1390000{_n:04d}"}],
        "orders": orders,
        "consents": [{"purpose": p, "granted": g, "at": consent_at}
                     for p, g in (consents or {}).items()],
    }
    if interactions:
        rec["interactions"] = interactions
    if profile:
        rec["profile"] = profile
    return rec


def order(order_id: str, at: str, items: list[dict[str, Any]], total: float | None = None
          ) -> dict[str, Any]:
    o: dict[str, Any] = {"order_id": order_id, "ordered_at": at, "items": items}
    if total is not None:
        o["total"] = total
    return o


def fill(atc: str, days: int, *, sku: str = "X", price: float = 30.0, qty: int = 1
         ) -> dict[str, Any]:
    """A prescription item carrying its ATC code and days' supply."""
    return {"sku": sku, "name": "处方药", "rx": True, "qty": qty, "unit_price": price,
            "atc": atc, "days_supply": days}


def otc(price: float, qty: int = 1) -> dict[str, Any]:
    return {"sku": "OTC1", "name": "维生素", "rx": False, "qty": qty, "unit_price": price}


def ingest_records(client: Any, make_api_key: Any, records: list[dict[str, Any]]) -> list[str]:
    return ingest(client, make_api_key("ingest_service"), records)


def run_cli(cli_env: dict[str, str], *args: str) -> Any:
    res = CliRunner().invoke(cli, list(args), env=cli_env, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res
