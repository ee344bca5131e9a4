"""Languages of the console: English and Simplified Chinese (Flask-Babel).

The person's choice (stored on their session, or a cookie before sign-in) wins; otherwise
the browser's Accept-Language. The catalogue is kept as a .po file in the repository and
compiled to .mo when the app starts (a few milliseconds), so no binary is committed.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, request
from flask_babel import Babel, get_translations

log = logging.getLogger("cdp.console.i18n")

LANGUAGES = {"en": "English", "zh": "简体中文"}
# html lang attribute per language: Simplified Chinese script.
HTML_LANG = {"en": "en", "zh": "zh-Hans"}
LANG_COOKIE = "cdp_console_lang"
SOURCE_DIR = Path(__file__).resolve().parent / "translations"


def compile_catalogs(source: Path = SOURCE_DIR) -> Path:
    """Compile every messages.po under ``source`` to messages.mo; returns the directory
    Flask-Babel should read. Compiled next to the .po when that is writable (a checkout),
    else into a private temporary directory (a read-only install)."""
    try:
        target = source
        probe = target / ".write-probe"
        probe.touch()
        probe.unlink()
    except OSError:
        target = Path(tempfile.mkdtemp(prefix="cdp-console-i18n-"))
    for po_path in source.glob("*/LC_MESSAGES/messages.po"):
        mo_path = target / po_path.relative_to(source).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime_ns >= po_path.stat().st_mtime_ns:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as f:
            catalog = read_po(f)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo_path)  # atomic: a second worker starting at once reads a whole file
    return target


def current_language() -> str:
    """The language of this request: the person's choice, else the browser's."""
    cached = g.get("console_lang")
    if cached:
        return str(cached)
    lv = g.get("console")
    chosen = lv.row.language if lv is not None else None
    if chosen not in LANGUAGES:
        chosen = request.cookies.get(LANG_COOKIE)
    if chosen not in LANGUAGES:
        chosen = request.accept_languages.best_match(["en", "zh", "zh-CN", "zh-Hans"]) or "en"
        chosen = "zh" if chosen.startswith("zh") else "en"
    g.console_lang = chosen
    return str(chosen)


def _translations() -> Any:
    """This request's catalogue, looked up once: Flask-Babel resolves it again on every
    call, which made a third of the time of a page with a few hundred labels."""
    cached = g.get("console_translations")
    if cached is None:
        cached = get_translations()
        g.console_translations = cached
    return cached


def _gettext(message: str) -> str:
    return str(_translations().ugettext(message))


def _ngettext(singular: str, plural: str, n: int) -> str:
    return str(_translations().ungettext(singular, plural, n))


def init_app(app: Flask) -> None:
    directory = compile_catalogs()
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    Babel(app, locale_selector=current_language)
    # Templates: the same catalogue through a per-request cache (Jinja's new-style gettext
    # does the %(name)s formatting and escaping).
    app.jinja_env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    app.jinja_env.globals["html_lang"] = lambda: HTML_LANG[current_language()]
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
