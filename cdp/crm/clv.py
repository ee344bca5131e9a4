"""BG/NBD (purchase process) and Gamma-Gamma (spend) by maximum likelihood.

Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2); and Fader, Hardie & Lee (2005), "RFM and CLV:
using iso-value curves for customer base analysis", JMR 42(4) (the Gamma-Gamma spend model).

Per customer the models take ``x`` (repeat purchases), ``t_x`` (time of the last purchase
after the first) and ``T`` (time from the first purchase to the end of calibration), all in
one time unit. Identical (x, t_x, T) rows are merged with a weight before fitting: the
likelihood is a sum over customers, so a row seen n times counts n times, and a million
customers bought on whole days collapse to a few hundred thousand distinct rows or fewer.

The log-likelihood and its gradient are in closed form (gammaln, digamma); the optimiser
(L-BFGS-B) works on log-parameters so every parameter stays positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, hyp2f1

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float
    log_likelihood: float


def distinct_rows(*columns: Array) -> tuple[list[Array], NDArray[np.intp], Array]:
    """The distinct rows of ``columns`` (sorted), each input row's index among them, and
    how often each occurs. A lexsort and one comparison pass: ``np.unique(axis=0)`` sorts
    rows as structured values, about 30 times slower on 100,000 rows."""
    cols = [np.asarray(c, dtype=np.float64) for c in columns]
    order = np.lexsort(cols[::-1])
    sorted_cols = [c[order] for c in cols]
    n = order.size
    new = np.ones(n, dtype=bool)
    if n > 1:
        same = np.ones(n - 1, dtype=bool)
        for c in sorted_cols:
            same &= c[1:] == c[:-1]
        new[1:] = ~same
    group = np.cumsum(new) - 1
    inv = np.empty(n, dtype=np.intp)
    inv[order] = group
    counts = np.bincount(group).astype(np.float64)
    return [c[new] for c in sorted_cols], inv, counts


def merge_rows(*columns: Array) -> tuple[list[Array], Array]:
    """The distinct rows of ``columns`` and how often each occurs (the fit's weights)."""
    uniq, _, counts = distinct_rows(*columns)
    return uniq, counts


@dataclass(frozen=True)
class _Rows:
    """Merged rows with their distinct x, T and t_x values factored out: the special
    functions of x are computed once per distinct x, the logarithms of alpha + T and
    alpha + t_x once per distinct T and t_x; per row only a few products remain."""

    w: Array
    ux: Array
    xi: NDArray[np.intp]
    uT: Array
    Ti: NDArray[np.intp]
    utx: Array
    txi: NDArray[np.intp]
    wx: Array  # weight per distinct x
    has: NDArray[np.bool_]  # per row: x > 0

    @classmethod
    def of(cls, x: Array, tx: Array, T: Array, w: Array) -> _Rows:
        ux, xi = np.unique(x, return_inverse=True)
        uT, Ti = np.unique(T, return_inverse=True)
        utx, txi = np.unique(tx, return_inverse=True)
        return cls(w, ux, xi, uT, Ti, utx, txi,
                   np.bincount(xi, weights=w, minlength=ux.size).astype(np.float64),
                   x > 0)


def _neg_ll_and_grad(log_params: Array, d: _Rows, want_grad: bool = True) -> tuple[float, Array]:
    """Minus the BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6) and its gradient
    with respect to the log-parameters."""
    r, alpha, a, b = np.exp(log_params)
    X = d.ux
    hx = X > 0
    bx1 = np.where(hx, b + X - 1.0, 1.0)
    per_x = (gammaln(r + X) - gammaln(r) + r * np.log(alpha)
             + gammaln(a + b) + gammaln(b + X) - gammaln(b) - gammaln(a + b + X))
    la_T = np.log(alpha + d.uT)[d.Ti]
    la_tx = np.log(alpha + d.utx)[d.txi]
    rx = (r + X)[d.xi]
    a3 = -rx * la_T
    a4 = np.where(d.has, (np.log(a) - np.log(bx1))[d.xi] - rx * la_tx, -np.inf)
    mix = np.logaddexp(a3, a4)
    ll = float(np.dot(d.wx, per_x) + np.dot(d.w, mix))
    if not want_grad:
        return -ll, np.zeros(4)
    p3 = np.exp(a3 - mix)
    p4 = np.exp(a4 - mix)  # 0 where x = 0 (a4 = -inf)
    wp3, wp4 = d.w * p3, d.w * p4
    inv_T = (1.0 / (alpha + d.uT))[d.Ti]
    inv_tx = (1.0 / (alpha + d.utx))[d.txi]
    dg_ab = digamma(a + b) - digamma(a + b + X)
    d_r = (np.dot(d.wx, digamma(r + X) - digamma(r) + np.log(alpha))
           - np.dot(wp3, la_T) - np.dot(wp4, la_tx))
    d_alpha = np.dot(d.wx, np.full_like(X, r / alpha)) - np.dot(wp3 * rx, inv_T) - np.dot(wp4 * rx, inv_tx)
    d_a = np.dot(d.wx, dg_ab) + wp4.sum() / a
    d_b = np.dot(d.wx, dg_ab + digamma(b + X) - digamma(b)) - np.dot(wp4, (1.0 / bx1)[d.xi])
    grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return -ll, -grad


def bgnbd_log_likelihood(log_params: Array, x: Array, tx: Array, T: Array, w: Array) -> float:
    return -_neg_ll_and_grad(log_params, _Rows.of(x, tx, T, w), want_grad=False)[0]


def fit_bgnbd(
    x: Array, tx: Array, T: Array, *, merge: bool = True, start: tuple[float, ...] = (1, 1, 1, 1),
    weights: Array | None = None,
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters for the customers (x, t_x, T); with ``weights``,
    the rows are already merged and each counts that many times.

    Raises ValueError when there is nothing to fit (no customers, or no time observed).
    """
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (x, tx, T))
    if x.size == 0 or not np.any(T > 0):
        raise ValueError("no customers with an observation period to fit")
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
    elif merge:
        (x, tx, T), w = merge_rows(x, tx, T)
    else:
        w = np.ones_like(x)
    d = _Rows.of(x, tx, T, w)
    scale = float(np.sum(w))

    def objective(lp: Array) -> tuple[float, Array]:
        v, g = _neg_ll_and_grad(lp, d)
        return v / scale, g / scale

    res = minimize(
        objective,
        np.log(np.asarray(start, dtype=np.float64)),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-12.0, 12.0)] * 4,
        options={"maxiter": 500, "gtol": 1e-8, "ftol": 1e-12},
    )
    r, alpha, a, b = (float(v) for v in np.exp(res.x))
    return BgNbdParams(r, alpha, a, b, -_neg_ll_and_grad(res.x, d, want_grad=False)[0])


def _bgnbd_denominator(p: BgNbdParams, x: Array, tx: Array, T: Array) -> Array:
    has = x > 0
    bx1 = np.where(has, p.b + x - 1.0, 1.0)
    # a ratio past the float range means "certainly inactive": 1 / inf = 0, no warning
    with np.errstate(over="ignore"):
        ratio = np.where(
            has, (p.a / bx1) * np.exp((p.r + x) * (np.log(p.alpha + T) - np.log(p.alpha + tx))),
            0.0,
        )
    return 1.0 + ratio


def probability_alive(p: BgNbdParams, x: Array, tx: Array, T: Array) -> Array:
    """P(still active at T | x, t_x, T) per customer."""
    return 1.0 / _bgnbd_denominator(p, np.asarray(x, float), np.asarray(tx, float),
                                     np.asarray(T, float))


def expected_purchases(p: BgNbdParams, t: float, x: Array, tx: Array, T: Array) -> Array:
    """E[X(T, T+t] | x, t_x, T]: expected purchases in the next ``t`` time units."""
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (x, tx, T))
    if t <= 0:
        return np.zeros_like(x)
    z = t / (p.alpha + T + t)
    hyp = hyp2f1(p.r + x, p.b + x, p.a + p.b + x - 1.0, z)
    lead = (p.a + p.b + x - 1.0) / (p.a - 1.0) if p.a > 1.0 else None
    if lead is None:
        # a <= 1: the closed form's leading factor is undefined; fall back to the
        # conditional expectation's series-free bound E <= t * E[lambda | alive] * P(alive)
        rate = (p.r + x) / (p.alpha + T)
        return t * rate * probability_alive(p, x, tx, T)
    core = 1.0 - np.exp((p.r + x) * (np.log(p.alpha + T) - np.log(p.alpha + T + t))) * hyp
    return lead * core / _bgnbd_denominator(p, x, tx, T)


def fit_gamma_gamma(frequency: Array, mean_value: Array) -> GammaGammaParams:
    """Gamma-Gamma spend parameters from repeat buyers (frequency > 0, mean value > 0)."""
    f = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(mean_value, dtype=np.float64)
    keep = (f > 0) & (m > 0)
    f, m = f[keep], m[keep]
    if f.size < 3:
        raise ValueError("too few repeat buyers to fit spend")
    (f, m), w = merge_rows(f, m)
    lnm, lnf = np.log(m), np.log(f)
    scale = float(np.sum(w))

    def neg(lp: Array) -> tuple[float, Array]:
        p, q, v = np.exp(lp)
        px = p * f
        lvm = np.log(v + m * f)
        ll = (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v) + (px - 1) * lnm
              + px * lnf - (px + q) * lvm)
        dp = f * (digamma(px + q) - digamma(px) + lnm + lnf - lvm)
        dq = digamma(px + q) - digamma(q) + np.log(v) - lvm
        dv = q / v - (px + q) / (v + m * f)
        g = np.array([np.dot(w, dp) * p, np.dot(w, dq) * q, np.dot(w, dv) * v])
        return -float(np.dot(w, ll)) / scale, -g / scale

    start = np.log(np.array([1.0, 1.0, max(float(np.median(m)), 1e-3)]))
    res = minimize(neg, start, jac=True, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * 3,
                   options={"maxiter": 500, "gtol": 1e-10, "ftol": 1e-14})
    p, q, v = (float(val) for val in np.exp(res.x))
    return GammaGammaParams(p, q, v, -float(res.fun) * scale)


def expected_spend(g: GammaGammaParams, frequency: Array, mean_value: Array,
                   population_mean: float | None = None) -> Array:
    """E[M | x, m_x] per customer; customers without repeat purchases get the population mean."""
    f = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(mean_value, dtype=np.float64)
    pop = population_mean if population_mean is not None else (
        g.p * g.v / (g.q - 1.0) if g.q > 1.0 else float(np.mean(m[m > 0])) if np.any(m > 0) else 0.0
    )
    denom = g.p * f + g.q - 1.0
    cond = np.where(denom > 0, (g.v + m * f) * g.p / np.where(denom > 0, denom, 1.0), pop)
    return np.where(f > 0, cond, pop)


def lifetime_value(
    p: BgNbdParams, spend: Array, x: Array, tx: Array, T: Array, *,
    months: int, days_per_unit: float, annual_discount: float,
) -> Array:
    """Discounted value of the next ``months`` months: per month, the expected purchases in
    that month times expected spend, discounted at the monthly equivalent of the annual rate."""
    monthly = (1.0 + annual_discount) ** (1.0 / 12.0) - 1.0
    unit_month = (365.25 / 12.0) / days_per_unit
    total = np.zeros_like(np.asarray(x, dtype=np.float64))
    prev = np.zeros_like(total)
    for i in range(1, months + 1):
        cur = expected_purchases(p, unit_month * i, x, tx, T)
        total += (cur - prev) * spend / (1.0 + monthly) ** i
        prev = cur
    return total


@dataclass(frozen=True)
class Scores:
    p_alive: Array
    expected: Array  # purchases expected in the horizon
    discounted_purchases: Array  # sum over months of purchases that month, discounted

    def value(self, spend: Array) -> Array:
        """The discounted value of the months scored, at ``spend`` per purchase."""
        return self.discounted_purchases * spend


def score(p: BgNbdParams, x: Array, tx: Array, T: Array, *, horizon: float, months: int,
          days_per_unit: float, annual_discount: float) -> Scores:
    """Probability alive, expected purchases in ``horizon`` (time units) and the discounted
    expected purchases of the next ``months`` months, per customer.

    Computed once per distinct (x, t_x, T) row and spread back: customers counted in whole
    days share rows, and the hypergeometric function is most of the cost. The value of a
    month's purchases is linear in spend, so the value is ``discounted_purchases x spend``.
    """
    (ux, utx, uT), inv, _ = distinct_rows(x, tx, T)
    rows = score_rows(p, ux, utx, uT, horizon=horizon, months=months,
                      days_per_unit=days_per_unit, annual_discount=annual_discount)
    return Scores(rows.p_alive[inv], rows.expected[inv], rows.discounted_purchases[inv])


def score_rows(p: BgNbdParams, ux: Array, utx: Array, uT: Array, *, horizon: float, months: int,
               days_per_unit: float, annual_discount: float) -> Scores:
    """``score`` of distinct (x, t_x, T) rows, one value each (the caller spreads them)."""
    alive = probability_alive(p, ux, utx, uT)
    exp_h = expected_purchases(p, horizon, ux, utx, uT)
    monthly = (1.0 + annual_discount) ** (1.0 / 12.0) - 1.0
    unit_month = (365.25 / 12.0) / days_per_unit
    det = np.zeros_like(ux)
    prev = np.zeros_like(ux)
    for i in range(1, months + 1):
        cur = expected_purchases(p, unit_month * i, ux, utx, uT)
        det += (cur - prev) / (1.0 + monthly) ** i
        prev = cur
    return Scores(alive, exp_h, det)


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, T: float, seed: int = 0
) -> tuple[Array, Array, Array]:
    """Draw (x, t_x, T) for ``n`` customers from the BG/NBD with known parameters (for
    parameter-recovery checks). Each customer is observed for ``T`` time units."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    pdrop = rng.beta(a, b, n)
    x = np.zeros(n)
    tx = np.zeros(n)
    t = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        idx = np.nonzero(alive)[0]
        t_next = t[idx] + rng.exponential(1.0 / lam[idx])
        within = t_next <= T
        done = idx[~within]
        alive[done] = False
        go = idx[within]
        t[go] = t_next[within]
        x[go] += 1
        tx[go] = t[go]
        # after each purchase the customer becomes inactive with probability p
        drop = rng.random(go.size) < pdrop[go]
        alive[go[drop]] = False
    return x, tx, np.full(n, float(T))
