#!/bin/sh
# Prints what a deployment can leave on a lab target, one item per line: files no Debian package
# owns where the roles write (fail2ban's and systemd's configuration, Ansible's local facts,
# fail2ban's state, the access log rotation's state, /opt);
# nftables tables; iptables chains;
# Docker containers, networks and volumes. Two runs compared show what a converge added or an
# uninstall left behind.
set -eu
cat /var/lib/dpkg/info/*.list | sort -u > /tmp/footprint.owned
find /etc/fail2ban /etc/systemd/system /etc/ansible /var/lib/fail2ban /var/lib/meshmonitor-* /opt -xdev \( -type f -o -type l \) 2>/dev/null | sort | comm -23 - /tmp/footprint.owned | sed 's/^/file /'
nft list tables 2>/dev/null | sed 's/^table /nft-table /'
iptables-save 2>/dev/null | sed -n 's/^:\([^ ]*\) .*/iptables-chain \1/p'
if command -v docker >/dev/null; then
  docker ps -a --format 'container {{.Names}}'
  docker network ls --format 'network {{.Name}}'
  docker volume ls --format 'volume {{.Name}}'
fi | sort
rm -f /tmp/footprint.owned
