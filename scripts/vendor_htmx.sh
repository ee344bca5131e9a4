#!/usr/bin/env bash
# Vendor htmx from the npm registry into the console's static files (no CDN at run time).
# Usage: scripts/vendor_htmx.sh [VERSION]   (default: the version pinned below)
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-2.0.11}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "htmx.org@$version" >/dev/null && tar xzf "htmx.org-$version.tgz")
cp "$tmp/package/dist/htmx.min.js" cdp/console/static/htmx.min.js
cp "$tmp/package/LICENSE" cdp/console/static/htmx.LICENSE
sha256sum cdp/console/static/htmx.min.js
echo "htmx $version vendored; update the version in cdp/console/static/VENDORED.md"
