#!/usr/bin/env bash
# Refresh the console's translation catalogue after changing user-visible text:
# extract every marked string, merge into the Simplified Chinese .po, then translate the
# entries left empty (or marked fuzzy). The .mo is compiled when the app starts.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pybabel extract -F cdp/console/babel.cfg -k _ -k gettext -k _l -k lazy_gettext \
    -o cdp/console/translations/messages.pot .
.venv/bin/pybabel update -i cdp/console/translations/messages.pot -d cdp/console/translations \
    -l zh --no-wrap
grep -c '^msgstr ""$' cdp/console/translations/zh/LC_MESSAGES/messages.po || true
