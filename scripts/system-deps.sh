#!/usr/bin/env bash
# Debian packages pianqu's demo and tests need, installed once (one `apt-get update`) when missing:
# a CJK font (Chinese map labels), PostgreSQL + PostGIS (the PostGIS workspace; the tests start a
# private cluster of their own), chromium (the web app's browser tests; `playwright install`
# never runs), pango for WeasyPrint and poppler-utils (the supervision PDF and its tests). As a normal user it only says what to install.
set -euo pipefail

need=()
fc-list 2>/dev/null | grep -qi -E "wqy|noto sans cjk|noto serif cjk" || need+=(fonts-wqy-microhei fontconfig)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
# WeasyPrint (the 通报 PDF of `pianqu supervise`) needs pango; pdftotext (poppler) reads the PDF in the tests
for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
postgis_missing() { ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; }

if [ ${#need[@]} -eq 0 ] && ! postgis_missing; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "warning: missing system packages: ${need[*]} $(postgis_missing && echo postgresql-15-postgis-3);" \
       "run 'sudo make system-deps' (Chinese map labels, the PostGIS and browser tests need them)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
[ ${#need[@]} -eq 0 ] || apt-get install -y -qq "${need[@]}"
if postgis_missing; then
  ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
  apt-get install -y -qq "postgresql-${ver}-postgis-3"
fi
