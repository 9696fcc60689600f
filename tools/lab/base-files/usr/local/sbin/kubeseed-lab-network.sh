#!/bin/sh
# kubeseed lab: configure host0 (the veth to the lab bridge) from
# /etc/kubeseed-lab/network, written per host by tools/lab/lab.py.
# systemd-networkd is not used: it waits for udev, which never settles here.
set -eu
# shellcheck disable=SC1091
. /etc/kubeseed-lab/network
ip link set lo up
ip link set host0 up
ip addr replace "$ADDRESS" dev host0
# The only gateway is the controller's bridge address; the controller rejects
# anything the lab sends beyond the bridge, so nothing leaves the lab.
ip route replace default via "$GATEWAY" dev host0
