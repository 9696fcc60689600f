#!/bin/sh
# kubeseed lab: systemd-nspawn mounts the cgroup v1 controller hierarchies
# read-only inside the machine. Kubernetes (kubelet, containerd) must create
# cgroups, so remount every hierarchy read-write and let systemd re-exec so it
# notices it may manage them.
set -eu
changed=0
for dir in /sys/fs/cgroup/*; do
    [ -L "$dir" ] && continue
    mountpoint -q "$dir" || continue
    case ",$(findmnt -n -o OPTIONS "$dir")," in
        *,ro,*)
            mount -o remount,bind,rw "$dir"
            changed=1
            ;;
    esac
done
if [ "$changed" = 1 ]; then
    systemctl --no-block daemon-reexec
fi
exit 0
