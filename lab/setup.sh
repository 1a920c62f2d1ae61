#!/usr/bin/env bash
# Everything `make demo` and `make test` need on a fresh Debian 12 machine, as root:
# host packages, a running Docker engine, the Python virtualenv and the collection path.
# Safe to re-run: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
. lab/lib.sh

packages=(docker.io debootstrap python3-venv python3-pip nodejs npm curl git make ca-certificates openssh-client)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# nodejs may come from elsewhere on the machine; any working npm will do.
if command -v npm >/dev/null; then missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}"); fi
read -r -a missing <<<"${missing[*]}"
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

start_docker

# The lab and the tests need requirements-dev.txt, which includes the runtime requirements.txt.
if [ ! -x .venv/bin/ansible-playbook ] || ! cat requirements.txt requirements-dev.txt | cmp -s - .venv/requirements.txt; then
  log "creating .venv from requirements-dev.txt"
  mkdir -p .cache
  # Debian's own Python (3.11 on Debian 12), whatever else is first on PATH.
  /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip >.cache/pip.log 2>&1 || { cat .cache/pip.log; exit 1; }
  .venv/bin/pip install -q -r requirements-dev.txt >.cache/pip.log 2>&1 || { cat .cache/pip.log; exit 1; }
  .venv/bin/ansible-playbook --version >/dev/null
  cat requirements.txt requirements-dev.txt > .venv/requirements.txt
fi

# fail2ban-regex for the filter tests, from Debian's own package, unpacked (no daemon on this machine).
if [ ! -x .venv/fail2ban/usr/bin/fail2ban-regex ]; then
  log "unpacking Debian's fail2ban for fail2ban-regex"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download fail2ban >/dev/null 2>&1) || { apt-get update -qq; (cd "$tmp" && apt-get download fail2ban >/dev/null); }
  dpkg -x "$tmp"/fail2ban_*.deb .venv/fail2ban
  rm -rf "$tmp"
fi

# Playbooks in this clone use the collection by its name: link the checkout into a collection path.
mkdir -p .cache/collections/ansible_collections/meshmonitor
ln -sfn "$PWD" .cache/collections/ansible_collections/meshmonitor/fail2ban
log "setup done"
