#!/usr/bin/env bash
# Unpacks fail2ban as packaged by a given Debian release into DEST (no install, no daemon), for
# benchmarks across fail2ban versions: Debian 12 ships 1.0.2, Debian 13 ships 1.1.0.
# Usage: lab/unpack-fail2ban.sh SUITE DEST. The host's own apt configuration is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
. lab/lib.sh
suite=$1 dest=$2
[ -x "$dest/usr/bin/fail2ban-regex" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
echo "deb $(debian_mirror) $suite main" > "$tmp/sources.list"
apt_tmp=(apt-get -qq -o APT::Sandbox::User=root -o Dir::Etc::sourcelist="$tmp/sources.list" -o Dir::Etc::sourceparts=- \
         -o Dir::State::Lists="$tmp/lists" -o Dir::Cache="$tmp/cache" -o Dir::State::status=/dev/null)
log "unpacking fail2ban from Debian $suite"
"${apt_tmp[@]}" update
(cd "$tmp" && "${apt_tmp[@]}" download fail2ban)
dpkg -x "$tmp"/fail2ban_*.deb "$dest"
