#!/usr/bin/env bash
# Builds the lab's images from scratch, no registry: Debian base images with debootstrap,
# systemd target hosts with their own Docker engine, the MeshMonitor stand-in.
# Images that exist are reused; FORCE=1 rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
. lab/lib.sh
start_docker

have() { [ "${FORCE:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }
build() { # build TAG DIR [--build-arg ...]
  local tag=$1 dir=$2; shift 2
  log "building $tag"
  docker build -q --label "$LAB_LABEL=1" -t "$tag" "$@" "$dir" >/dev/null
}

for suite in bookworm trixie; do
  if ! have "mmf2b-lab/debian:$suite"; then
    log "debootstrap $suite"
    root=$(mktemp -d)
    debootstrap --variant=minbase "$suite" "$root" "$(debian_mirror)" >/dev/null
    tar -C "$root" -c . | docker import --change "LABEL $LAB_LABEL=1" --change 'CMD ["/bin/bash"]' - "mmf2b-lab/debian:$suite" >/dev/null
    rm -rf "$root"
  fi
  have "mmf2b-lab/target:$suite" || build "mmf2b-lab/target:$suite" lab/images/target \
    --build-arg "BASE=mmf2b-lab/debian:$suite" --build-arg "SUITE=$suite"
done
# A host without Docker, for the app role's "install Docker when absent" path.
have mmf2b-lab/bare:trixie || build mmf2b-lab/bare:trixie lab/images/target \
  --build-arg BASE=mmf2b-lab/debian:trixie --build-arg SUITE=trixie --build-arg DOCKER=0

standin=mmf2b-lab/meshmonitor-standin
# Tagged by a hash of its sources too, so a changed stand-in is built anew where an older one is
# cached; the scenarios use :latest and :morgan-1.10, which follow the current sources.
src=$(cd lab/images/meshmonitor-standin && cat Dockerfile package.json package-lock.json server.js | sha256sum | cut -c1-12)
if ! have $standin:src-$src; then
  (cd lab/images/meshmonitor-standin && npm ci --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
  build $standin:src-$src lab/images/meshmonitor-standin --build-arg BASE=mmf2b-lab/debian:bookworm
fi
docker tag $standin:src-$src $standin:latest
# The same with morgan 1.10 (MeshMonitor images built before mid-2026): it writes log fields raw,
# line breaks and quotes included, where morgan 1.11.0 (as MeshMonitor 4.15.1 pins it) escapes line
# breaks in the user name.
if ! have $standin:morgan-1.10-src-$src; then
  variant=$(mktemp -d)
  cp -r lab/images/meshmonitor-standin/. "$variant"
  (cd "$variant" && npm install --omit=dev --no-audit --no-fund --loglevel=error morgan@1.10.1 >/dev/null)
  build $standin:morgan-1.10-src-$src "$variant" --build-arg BASE=mmf2b-lab/debian:bookworm
  rm -rf "$variant"
fi
docker tag $standin:morgan-1.10-src-$src $standin:morgan-1.10
# Saved once (both tags share their layers); lab targets load it into their own Docker engine.
mkdir -p .cache
ids=$(docker image inspect -f '{{.Id}}' $standin:latest $standin:morgan-1.10)
if [ ! -s .cache/meshmonitor-standin.tar ] || [ "$ids" != "$(cat .cache/meshmonitor-standin.id 2>/dev/null)" ]; then
  docker save $standin:latest $standin:morgan-1.10 -o .cache/meshmonitor-standin.tar
  echo "$ids" > .cache/meshmonitor-standin.id
fi
log "images ready"
