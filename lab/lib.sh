# Shared helpers for the lab scripts (sourced).
LAB_LABEL=io.meshmonitor-fail2ban.lab
log() { printf '\033[1m[lab]\033[0m %s\n' "$*" >&2; }

# The Docker engine from Debian's packages; started by hand where there is no systemd.
start_docker() {
  if docker info >/dev/null 2>&1; then return; fi
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    log "starting dockerd"
    mkdir -p .cache
    nohup /usr/sbin/dockerd >.cache/dockerd.log 2>&1 &
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
  log "dockerd did not come up; see .cache/dockerd.log"; exit 1
}

# The Debian mirror this machine's apt uses, for debootstrap.
debian_mirror() {
  local uri
  uri=$(grep -rhoE '^(deb|URIs:)[^#]*https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
        | grep -oE 'https?://[^ ]+/debian/?' | grep -v security | head -n1)
  echo "${uri:-http://deb.debian.org/debian}"
}
