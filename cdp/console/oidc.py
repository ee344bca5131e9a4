"""Optional sign-in through an OpenID Connect provider (Authlib), configured by environment.

Enabled when CDP_OIDC_ISSUER, CDP_OIDC_CLIENT_ID and CDP_OIDC_CLIENT_SECRET are set. The
console role comes from one claim of the ID token (``[oidc] role_claim``) mapped through
``[oidc.roles]`` in policies/console.toml; a person whose claim maps to no role or to several
is refused. The first sign-in creates a console account bound to the issuer and subject
(no password); disabling it in the console (``cdp users disable``) refuses later sign-ins.
The second factor is the provider's business for these accounts.

Not exercised against a live identity provider in this repository's tests (none runs here);
the claim mapping is tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, abort, url_for
from sqlalchemy import select

from cdp.console.context import audit, bp, cpolicy
from cdp.console.models import ConsoleUser
from cdp.console.settings import ConsolePolicy, oidc_settings
from cdp.errors import Forbidden
from cdp.http import db_session


def role_from_claims(claims: Mapping[str, Any], policy: ConsolePolicy) -> str:
    """The one console role the ID token's claim maps to; Forbidden otherwise."""
    raw = claims.get(policy.oidc_role_claim)
    values: Iterable[Any] = raw if isinstance(raw, list | tuple) else [raw] if raw else []
    roles = {policy.oidc_roles[str(v)] for v in values if str(v) in policy.oidc_roles}
    if len(roles) != 1:
        raise Forbidden("your organisation account maps to no console role, or to several",
                        code="oidc_role")
    return roles.pop()


def account_name(claims: Mapping[str, Any]) -> str:
    base = str(claims.get("preferred_username") or claims.get("email") or "oidc").lower()
    base = re.sub(r"[^a-z0-9._-]", "-", base.split("@")[0])[:48].strip("-") or "oidc"
    return base if base[0].isalpha() else f"u-{base}"


def init_oidc(app: Flask) -> None:
    settings = oidc_settings()
    if settings is None:
        return
    from authlib.integrations.flask_client import OAuth

    # Authlib keeps state and nonce in Flask's signed session cookie during the redirect.
    app.secret_key = app.secret_key or app.extensions["cdp"].keyring.derived("cdp/console/flask-session")
    oauth = OAuth(app)
    oauth.register(
        "cdp",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": settings.scope},
    )
    app.extensions["cdp_oidc"] = oauth


def _client() -> Any:
    from flask import current_app

    oauth = current_app.extensions.get("cdp_oidc")
    if oauth is None:
        abort(404)
    return oauth.cdp


@bp.get("/oidc/login")
def oidc_login() -> Any:
    return _client().authorize_redirect(url_for("console.oidc_callback", _external=True))


@bp.get("/oidc/callback")
def oidc_callback() -> Any:
    from cdp.console.pages.auth import begin_session

    token = _client().authorize_access_token()
    claims = token.get("userinfo") or {}
    issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
    if not subject:
        raise Forbidden("the identity provider sent no subject", code="oidc_subject")
    role = role_from_claims(claims, cpolicy())
    session = db_session()
    key = f"{issuer}|{subject}"[:255]
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.oidc_subject == key))
    if user is None:
        from cdp.console.accounts import create_user

        name, n = account_name(claims), 1
        while session.scalar(select(ConsoleUser.id).where(ConsoleUser.name == name)):
            n += 1
            name = f"{account_name(claims)[:60]}-{n}"
        user = create_user(session, name, role, None)
        user.oidc_subject = key
    elif user.disabled_at is not None:
        audit("console.sign_in", decision="deny", actor=user.actor,
              detail={"reason": "disabled", "method": "oidc"})
        raise Forbidden("this account is disabled", code="disabled")
    user.role = role  # the provider's groups are the source of truth for these accounts
    return begin_session(user, method="oidc")
