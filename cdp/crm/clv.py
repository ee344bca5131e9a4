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


def merge_rows(*columns: Array) -> tuple[list[Array], Array]:
    """The distinct rows of ``columns`` and how often each occurs (the fit's weights)."""
    stacked = np.column_stack(columns)
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return [uniq[:, i] for i in range(uniq.shape[1])], counts.astype(np.float64)


def _bgnbd_terms(
    log_params: Array, x: Array, tx: Array, T: Array
) -> tuple[Array, Array, Array, Array, Array, Array, Array]:
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    has = x > 0
    # a4 only for repeat buyers; -inf elsewhere so logaddexp drops it
    bx1 = np.where(has, b + x - 1.0, 1.0)
    a4 = np.where(has, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + tx), -np.inf)
    mix = np.logaddexp(a3, a4)
    return a1, a2, a3, a4, mix, bx1, has


def bgnbd_log_likelihood(log_params: Array, x: Array, tx: Array, T: Array, w: Array) -> float:
    a1, a2, _, _, mix, _, _ = _bgnbd_terms(log_params, x, tx, T)
    return float(np.dot(w, a1 + a2 + mix))


def _bgnbd_neg_ll_and_grad(
    log_params: Array, x: Array, tx: Array, T: Array, w: Array
) -> tuple[float, Array]:
    r, alpha, a, b = np.exp(log_params)
    a1, a2, a3, a4, mix, bx1, has = _bgnbd_terms(log_params, x, tx, T)
    ll = a1 + a2 + mix
    # weights of the two terms inside the log-sum
    p3 = np.exp(a3 - mix)
    p4 = np.where(has, np.exp(np.where(has, a4, mix) - mix), 0.0)
    la_T = np.log(alpha + T)
    la_tx = np.log(alpha + tx)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - p3 * la_T - p4 * la_tx
    d_alpha = r / alpha - p3 * (r + x) / (alpha + T) - p4 * (r + x) / (alpha + tx)
    d_a = digamma(a + b) - digamma(a + b + x) + p4 / a
    d_b = (digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x)
           - np.where(has, p4 / bx1, 0.0))
    grad = np.array([np.dot(w, d_r) * r, np.dot(w, d_alpha) * alpha,
                     np.dot(w, d_a) * a, np.dot(w, d_b) * b])
    return -float(np.dot(w, ll)), -grad


def fit_bgnbd(
    x: Array, tx: Array, T: Array, *, merge: bool = True, start: tuple[float, ...] = (1, 1, 1, 1)
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters for the customers (x, t_x, T).

    Raises ValueError when there is nothing to fit (no customers, or no time observed).
    """
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (x, tx, T))
    if x.size == 0 or not np.any(T > 0):
        raise ValueError("no customers with an observation period to fit")
    if merge:
        (x, tx, T), w = merge_rows(x, tx, T)
    else:
        w = np.ones_like(x)
    scale = float(np.sum(w))
    res = minimize(
        lambda p: tuple(v / scale for v in _bgnbd_neg_ll_and_grad(p, x, tx, T, w)),  # type: ignore[arg-type]
        np.log(np.asarray(start, dtype=np.float64)),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-12.0, 9.0)] * 4,
        options={"maxiter": 500, "gtol": 1e-9, "ftol": 1e-13},
    )
    r, alpha, a, b = (float(v) for v in np.exp(res.x))
    return BgNbdParams(r, alpha, a, b, bgnbd_log_likelihood(res.x, x, tx, T, w))


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
