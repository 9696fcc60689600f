"""kubeseed lab: systemd-nspawn hosts on one controller. The CLI entry is tools/lab/lab.py; see docs/lab.md."""
