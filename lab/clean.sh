#!/usr/bin/env bash
# Removes what the lab created: only containers, networks, volumes and images carrying its label.
set -uo pipefail
cd "$(dirname "$0")/.."
. lab/lib.sh
docker info >/dev/null 2>&1 || { log "no Docker engine running: nothing to clean"; exit 0; }
ids=$(docker ps -aq --filter "label=$LAB_LABEL"); [ -n "$ids" ] && docker rm -f $ids >/dev/null
ids=$(docker network ls -q --filter "label=$LAB_LABEL"); [ -n "$ids" ] && docker network rm $ids >/dev/null
ids=$(docker volume ls -q --filter "label=$LAB_LABEL"); [ -n "$ids" ] && docker volume rm $ids >/dev/null
ids=$(docker images -q --filter "label=$LAB_LABEL" | sort -u); [ -n "$ids" ] && docker rmi -f $ids >/dev/null
rm -f .cache/meshmonitor-standin.tar .cache/meshmonitor-standin.id
log "lab removed"
