"""Rate limits: who is counted, where, and what happens when the counter store is down.

Four limits, each a sliding-window counter (``limits``; two counters per key and window,
O(1) per request, a burst at a window's edge cannot pass twice the limit):

- ``per_key``: every request of an authenticated key, all endpoints together
  (``CDP_RATELIMIT``, default 600/minute). Counted only after the key was authenticated,
  so nobody can spend another key's allowance by sending its public prefix.
- ``customer_data``: customer records served to a key, across every endpoint that serves
  them (``CDP_RATELIMIT_CUSTOMER_DATA``, default 600/minute). A read costs 1, a lookup
  1 plus one per customer it returns: 600 lookups of 20 customers are 12,600 records, not
  600 requests.
- ``per_address`` and ``anonymous_global``: requests that are not authenticated (no key, a
  wrong or revoked key, the public OpenAPI document) per client address
  (``CDP_RATELIMIT_ANONYMOUS``, default 60/minute) and all together
  (``CDP_RATELIMIT_ANONYMOUS_GLOBAL``, default 600/minute). Once an address (or everyone)
  is over, further unauthenticated requests are refused before the database is asked.
  A key this process has recently seen valid is not held back by its address's limit.

Failed authentications are counted per client address and fixed window
(``DENIAL_WINDOW_SECONDS``) and written to the audit log as ``auth.denied`` when the count
reaches 1, 10, 100, ... (one entry per order of magnitude, actor ``anonymous``, never the
key prefix the request named): the log shows every attacking address and how hard it
tried, without a row per attempt. An authenticated key refused for going over a limit (a
scraping script, a stolen key) is put on record the same way: ``rate_limited`` under the
key's actor, at its 1st, 10th, 100th, ... refusal in a window, with the endpoint and the
limit. The refused request's own entries are rolled back with it (nothing was served).

Storage: ``CDP_RATELIMIT_STORAGE`` (``redis://...`` in production; ``memory://`` counts per
process, multiplying limits by the worker count). When the store cannot be reached, at
start or later, counting goes on in this process's memory (the same limits, per process),
one warning is logged for the outage, and the store is tried again every
``RETRY_PRIMARY_SECONDS``; a request is never failed because the counter store is down.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from cdp.audit.log import AuditEntry, record
from cdp.errors import CdpError
from cdp.http import customer_arg, db_session, request_id

log = logging.getLogger("cdp.access.ratelimit")

RETRY_PRIMARY_SECONDS = 5.0
DENIAL_WINDOW_SECONDS = 60
# A dead or unreachable Redis must cost a request little: connection refused is immediate,
# a host that does not answer costs at most this.
STORE_TIMEOUT_SECONDS = 0.25
KEY_PREFIX = "cdp-rl"

T = TypeVar("T")


class RateLimited(CdpError):
    """429, with the limit that was exceeded and when to retry."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, limit: int, reset_at: float, name: str = ""):
        super().__init__(message)
        self.limit = limit
        self.reset_at = reset_at
        self.name = name  # which limit: per_key, customer_data, per_address, anonymous_global


@dataclass(frozen=True)
class LimitSet:
    per_key: RateLimitItem
    customer_data: RateLimitItem
    per_address: RateLimitItem
    anonymous_global: RateLimitItem

    @classmethod
    def from_config(cls, cfg: Any) -> LimitSet:
        return cls(
            per_key=parse(cfg.ratelimit_default),
            customer_data=parse(cfg.ratelimit_customer_data),
            per_address=parse(cfg.ratelimit_anonymous),
            anonymous_global=parse(cfg.ratelimit_anonymous_global),
        )


class FallbackStore:
    """The configured counter store, or this process's memory while it is unreachable."""

    def __init__(self, uri: str):
        self.uri = uri
        self.memory = MemoryStorage()
        self._primary: Storage | None = None
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()
        if uri.startswith("memory://"):
            self._primary = self.memory
            return
        try:
            options: dict[str, float] = {}
            if uri.startswith(("redis://", "rediss://")):
                options = {
                    "socket_timeout": STORE_TIMEOUT_SECONDS,
                    "socket_connect_timeout": STORE_TIMEOUT_SECONDS,
                }
            self._primary = storage_from_string(uri, **options)  # type: ignore[assignment]
        except Exception as exc:  # noqa: BLE001 - a bad URI or missing driver: same fallback
            self._mark_down(exc)

    @property
    def degraded(self) -> bool:
        return self._down_since is not None

    def _mark_down(self, exc: BaseException) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + RETRY_PRIMARY_SECONDS
            if self._down_since is None:
                self._down_since = time.monotonic()
                # Once per outage; the type only (a redis error can quote the URL's password).
                log.warning(
                    "rate-limit storage unreachable (%s): counting in this process's memory "
                    "until it is back",
                    type(exc).__name__,
                )

    def _mark_up(self) -> None:
        with self._lock:
            if self._down_since is not None:
                self._down_since = None
                log.warning("rate-limit storage reachable again: shared counting resumed")

    def run(self, op: Callable[[Storage], T]) -> T:
        """``op`` on the store in use; on any storage failure, on memory instead."""
        primary = self._primary
        if primary is None or primary is self.memory:
            return op(self.memory)
        if self._down_since is not None and time.monotonic() < self._retry_at:
            return op(self.memory)
        try:
            result = op(primary)
        except Exception as exc:  # noqa: BLE001 - any storage failure means: fall back
            self._mark_down(exc)
            return op(self.memory)
        if self._down_since is not None:
            self._mark_up()
        return result


class RateLimiter:
    """The platform's limits (see the module docstring) over one ``FallbackStore``."""

    def __init__(self, storage_uri: str, limits: LimitSet, key_prefix: str = KEY_PREFIX):
        self.limits = limits
        self.store = FallbackStore(storage_uri)
        self.prefix = key_prefix

    def _hit(self, item: RateLimitItem, key: str, cost: int = 1) -> bool:
        return self.store.run(
            lambda s: SlidingWindowCounterRateLimiter(s).hit(item, self.prefix, key, cost=cost)
        )

    def _test(self, item: RateLimitItem, key: str) -> bool:
        return self.store.run(
            lambda s: SlidingWindowCounterRateLimiter(s).test(item, self.prefix, key)
        )

    def _refuse(self, item: RateLimitItem, key: str, what: str, name: str) -> RateLimited:
        try:
            stats = self.store.run(
                lambda s: SlidingWindowCounterRateLimiter(s).get_window_stats(
                    item, self.prefix, key
                )
            )
            reset_at = float(stats.reset_time)
        except Exception:  # noqa: BLE001 - the hint is optional; the refusal is not
            reset_at = time.time() + item.get_expiry()
        return RateLimited(f"rate limit exceeded: {what} (at most {item})", limit=item.amount,
                           reset_at=reset_at, name=name)

    # -- authenticated ------------------------------------------------------------------

    def count_key_request(self, key_prefix: str) -> None:
        """One request of an authenticated key; RateLimited past ``per_key``."""
        if not self._hit(self.limits.per_key, f"key:{key_prefix}"):
            raise self._refuse(self.limits.per_key, f"key:{key_prefix}", "requests of this key",
                               "per_key")

    def spend_customer_data(self, key_prefix: str, records: int) -> None:
        """``records`` customer records about to be served to a key; RateLimited (nothing
        spent) when they do not fit in what is left of its ``customer_data`` budget."""
        item, key = self.limits.customer_data, f"data:{key_prefix}"
        if records > item.amount or not self._hit(item, key, cost=max(records, 1)):
            raise self._refuse(item, key, "customer records served to this key", "customer_data")

    # -- unauthenticated ----------------------------------------------------------------

    def check_anonymous(self, address: str) -> None:
        """RateLimited if ``address`` (or unauthenticated traffic as a whole) is over its
        limit; nothing is counted."""
        if not self._test(self.limits.per_address, f"addr:{address}"):
            raise self._refuse(self.limits.per_address, f"addr:{address}",
                               "unauthenticated requests from this address", "per_address")
        if not self._test(self.limits.anonymous_global, "anonymous"):
            raise self._refuse(self.limits.anonymous_global, "anonymous",
                               "unauthenticated requests", "anonymous_global")

    def count_anonymous(self, address: str) -> None:
        """One unauthenticated request from ``address`` (its limit and the global one)."""
        self._hit(self.limits.per_address, f"addr:{address}")
        self._hit(self.limits.anonymous_global, "anonymous")

    def count_denial(self, address: str) -> tuple[int, int]:
        """Count a failed authentication from ``address`` in the current fixed window;
        (the count so far in the window, the window's start as a Unix time)."""
        return self._count_in_window("denied", address)

    def count_refusal(self, key_prefix: str) -> tuple[int, int]:
        """Count a request of the key ``key_prefix`` refused for a limit, as count_denial."""
        return self._count_in_window("limited", key_prefix)

    def _count_in_window(self, kind: str, who: str) -> tuple[int, int]:
        window = int(time.time()) // DENIAL_WINDOW_SECONDS * DENIAL_WINDOW_SECONDS
        key = f"{self.prefix}/{kind}/{who}/{window}"
        n = self.store.run(lambda s: s.incr(key, DENIAL_WINDOW_SECONDS * 2))
        return int(n), window


def worth_auditing(count: int) -> bool:
    """1, 10, 100, ...: one audit entry per order of magnitude of denials in a window."""
    return count >= 1 and 10 ** round(math.log10(count)) == count


def client_address() -> str:
    """The client's address as the WSGI server saw it (behind a proxy: see docs/security.md)."""
    return (request.remote_addr or "unknown")[:64]


def spend_customer_records(key_prefix: str, records: int) -> None:
    """Spend ``records`` of the key's customer-record budget for this request. A handler run
    a second time after a lost database connection (cdp.http.lifecycle) spends only what it
    serves beyond what the first run already spent: the client asked once."""
    spent = int(g.get("cdp_records_spent", 0))
    if records > spent:
        current_limiter().spend_customer_data(key_prefix, records - spent)
        g.cdp_records_spent = records


def current_limiter() -> RateLimiter:
    limiter: RateLimiter = current_app.extensions["cdp_limiter"]
    return limiter


def _audit_refusal(limiter: RateLimiter, exc: RateLimited) -> None:
    """Put an authenticated key's refusal on record, once per order of magnitude of its
    refusals in the window (a ``deny`` entry: it outlives the refused request's rollback)."""
    principal = g.principal
    refused, window = limiter.count_refusal(principal.key_prefix)
    if not worth_auditing(refused):
        return
    access = g.get("access")
    record(db_session(), AuditEntry(
        actor=principal.actor, role=principal.role,
        purpose=access.purpose if access is not None else None,
        action=g.get("cdp_audit_action") or "request", decision="deny", request_id=request_id(),
        customer_id=customer_arg(),
        detail={"reason": "rate_limited", "limit": exc.name, "refused_in_window": refused,
                "window_start": window},
    ))


def init_limiter(app: Flask) -> RateLimiter:
    """Attach one limiter to ``app`` (idempotent), limits from the platform's config."""
    existing = app.extensions.get("cdp_limiter")
    if existing is not None:
        return existing
    cfg = app.extensions["cdp"].config
    limiter = RateLimiter(cfg.ratelimit_storage_uri, LimitSet.from_config(cfg))
    app.extensions["cdp_limiter"] = limiter

    @app.errorhandler(RateLimited)
    def _refused(exc: RateLimited) -> Any:
        from cdp.http import error_response

        if g.get("principal") is not None:
            _audit_refusal(limiter, exc)

        response, status = error_response(exc.status, exc.code, exc.message)
        reset = int(exc.reset_at + 1)
        response.headers["Retry-After"] = str(max(reset - int(time.time()), 1))
        response.headers["X-RateLimit-Limit"] = str(exc.limit)
        response.headers["X-RateLimit-Remaining"] = "0"
        response.headers["X-RateLimit-Reset"] = str(reset)
        return response, status

    return limiter

