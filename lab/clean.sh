#!/usr/bin/env bash
# Removes what the lab created: only containers, networks, volumes and images carrying its label.
set -uo pipefail
cd "$(dirname "$0")/.."
. lab/lib.sh
docker info >/dev/null 2>&1 || { log "no Docker engine running: nothing to clean"; exit 0; }
# -v: the targets' /var/lib/docker is an anonymous volume; it goes with its container.
ids=$(docker ps -aq --filter "label=$LAB_LABEL"); [ -n "$ids" ] && docker rm -fv $ids >/dev/null
ids=$(docker network ls -q --filter "label=$LAB_LABEL"); [ -n "$ids" ] && docker network rm $ids >/dev/null
ids=$(docker volume ls -q --filter "label=$LAB_LABEL"); [ -n "$ids" ] && docker volume rm $ids >/dev/null
# Derived images first: a base image with children cannot go in the same call.
for _ in 1 2 3; do
  ids=$(docker images -q --filter "label=$LAB_LABEL" | sort -u); [ -z "$ids" ] && break
  docker rmi -f $ids >/dev/null 2>&1
done
rm -f .cache/meshmonitor-standin.tar .cache/meshmonitor-standin.id
log "lab removed"
