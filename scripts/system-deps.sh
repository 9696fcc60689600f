#!/usr/bin/env bash
# Install the Debian packages the project needs, only those missing (a second run is a no-op).
set -euo pipefail
packages=(
  git rsync curl ca-certificates openssh-client shellcheck
  # the lab (tools/lab): nspawn hosts on a bridge
  debootstrap systemd-container iproute2 iptables
  # the offline bundle (tools/bundle): .deb downloads and checks; runc's cgo build with libseccomp linked in statically
  dpkg-dev gcc libc6-dev libseccomp-dev pkg-config file
  # its apt repository (bundle.py aptrepo, the lab's mirror): the signing key and signatures
  gpg
  # AWX-style jobs (tools/awx): python3-venv for .venv-ee
  python3-venv
)
# The unprivileged user AWX-style test jobs run as (an execution environment runs jobs as a non-root user
# whose passwd entry has a writable home); only created when we are root.
job_user=kubeseed-runner
if [ "$(id -u)" -eq 0 ] && ! getent passwd "$job_user" >/dev/null; then
  useradd --system --create-home --home-dir "/var/lib/$job_user" --shell /usr/sbin/nologin "$job_user"
  echo "[system-deps] created the unprivileged job user $job_user"
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing Debian packages: ${missing[*]} (run as root or install them)" >&2
  exit 1
fi
echo "[system-deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
