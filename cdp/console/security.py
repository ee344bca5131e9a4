"""Response headers of console pages: a strict, nonce-based Content Security Policy and the
usual hardening headers. Applied to console responses only (the /v1 API is JSON for
programs and keeps its own headers)."""

from __future__ import annotations

import secrets

from flask import Response, g


def nonce() -> str:
    """This response's CSP nonce (one per request; the templates put it on <script>/<link>)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return str(g.csp_nonce)


def content_security_policy(n: str) -> str:
    # No 'unsafe-inline', no 'unsafe-eval': scripts and stylesheets run only when they come
    # from this origin and carry this response's nonce; SVG is drawn with presentation
    # attributes and classes, never style="...".
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' 'nonce-{n}'",
            f"style-src 'self' 'nonce-{n}'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


def apply_headers(response: Response, *, secure: bool) -> Response:
    """Set the console's security headers on ``response``."""
    h = response.headers
    h["Content-Security-Policy"] = content_security_policy(nonce())
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    # Not "no-referrer": under it Chromium sends "Origin: null" with form posts, and the
    # console checks Origin on every unsafe request. "same-origin" still tells no other site
    # anything (customer ids are in console URLs).
    h["Referrer-Policy"] = "same-origin"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Cross-Origin-Resource-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    if not response.headers.get("Cache-Control"):
        # Pages carry personal data: never stored, so the back button after sign-out
        # refetches (and finds no session) instead of showing a cached page.
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
    if secure:
        h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response
