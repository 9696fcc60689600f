"""The lab network: the bridge the hosts hang on, the check that nobody else uses its name or subnet,
and the iptables rules that keep the hosts inside."""

from __future__ import annotations

import ipaddress
import json
import shlex
from pathlib import Path

from .plan import LabError, Paths, gateway_of
from .proc import Progress, run


def overlaps_in_use(subnet: str, bridge: str) -> list[str]:
    """Addresses or routes on other interfaces that overlap the lab subnet."""
    addrs = json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]")
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
    return find_overlaps(subnet, bridge, addrs, routes)


def find_overlaps(subnet: str, bridge: str, addrs: list[dict[str, object]], routes: list[dict[str, object]]) -> list[str]:
    """From `ip -j` output: what, besides our bridge, uses part of subnet."""
    net = ipaddress.ip_network(subnet)
    found = []
    for link in addrs:
        infos = link.get("addr_info", [])
        for info in infos if isinstance(infos, list) else []:
            iface = ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}")
            if link.get("ifname") != bridge and iface.network.overlaps(net):
                found.append(f"address {iface} on {link.get('ifname')}")
    for route in routes:
        dst = str(route.get("dst", ""))
        if dst in ("default", "") or route.get("dev") == bridge or route.get("type") in ("local", "broadcast"):
            continue
        try:
            if ipaddress.ip_network(dst, strict=False).overlaps(net):
                found.append(f"route {dst} dev {route.get('dev')}")
        except ValueError:
            continue
    return found


def veth(name: str) -> str:
    """The controller end of a host's link to the bridge (systemd-nspawn names it)."""
    return f"vb-{name}"[:15]


def remove_fw_rules(tag: str) -> int:
    """Delete every iptables rule whose comment is tag (one lab's); how many there were."""
    removed = 0
    for chain in ("FORWARD", "INPUT"):
        listing = run(["iptables", "-S", chain], check=False).stdout or ""
        for line in listing.splitlines():
            words = shlex.split(line)
            if words[:1] == ["-A"] and rule_comment(words) == tag:
                run(["iptables", "-D", *words[1:]])
                removed += 1
    return removed


def rule_comment(words: list[str]) -> str | None:
    """The comment of one `iptables -S` rule, split into words."""
    for index, word in enumerate(words[:-1]):
        if word == "--comment":
            return words[index + 1]
    return None


class LabPart:
    """What each part of one lab knows: its paths, subnet, bridge, gateway and progress printer."""

    def __init__(self, paths: Paths, subnet: str, bridge: str, progress: Progress) -> None:
        self.paths = paths
        self.subnet = subnet
        self.bridge = bridge
        self.gateway = gateway_of(subnet)
        self.progress = progress


class Network(LabPart):
    """The bridge and firewall of one lab."""

    def check_network_free(self) -> None:
        """Refuse to touch a bridge or subnet that someone else uses."""
        link = run(["ip", "-j", "link", "show", "dev", self.bridge], check=False)
        ours = self.paths.bridge_marker.is_file()
        if link.returncode == 0 and not ours:
            raise LabError(f"interface {self.bridge} already exists and was not made by the lab; "
                           f"remove it or choose another --bridge")
        clashes = overlaps_in_use(self.subnet, self.bridge)
        if clashes:
            raise LabError(f"subnet {self.subnet} is already in use ({'; '.join(clashes)}); "
                           f"choose another --subnet")

    def fw_rules(self) -> list[list[str]]:
        """Rules that keep the lab inside: nothing from the bridge is forwarded
        beyond it, and the controller only answers on the lab subnet."""
        tag = ["-m", "comment", "--comment", self.paths.tag]
        return [
            ["FORWARD", "-i", self.bridge, "!", "-o", self.bridge, *tag, "-j", "REJECT"],
            ["FORWARD", "-o", self.bridge, "!", "-i", self.bridge, *tag, "-j", "REJECT"],
            ["INPUT", "-i", self.bridge, "!", "-d", self.subnet, *tag, "-j", "REJECT"],
        ]

    def bridge_exists(self) -> bool:
        return run(["ip", "link", "show", "dev", self.bridge], check=False).returncode == 0

    def ensure_bridge(self) -> None:
        gw_cidr = f"{self.gateway}/{ipaddress.ip_network(self.subnet).prefixlen}"
        if not self.bridge_exists():
            self.check_network_free()
            run(["ip", "link", "add", self.bridge, "type", "bridge"])
            self.paths.run.mkdir(parents=True, exist_ok=True)
            self.paths.bridge_marker.write_text(self.bridge + "\n", encoding="utf-8")
            self.progress.changed(f"network: created bridge {self.bridge}")
        elif not self.paths.bridge_marker.is_file():
            self.check_network_free()
        disable_v6 = Path(f"/proc/sys/net/ipv6/conf/{self.bridge}/disable_ipv6")
        if disable_v6.exists() and disable_v6.read_text(encoding="utf-8").strip() != "1":
            disable_v6.write_text("1\n", encoding="utf-8")
        addrs = run(["ip", "-4", "-o", "addr", "show", "dev", self.bridge]).stdout
        if gw_cidr not in addrs:
            run(["ip", "addr", "replace", gw_cidr, "dev", self.bridge])
            self.progress.changed(f"network: {self.bridge} has {gw_cidr}")
        link = json.loads(run(["ip", "-j", "link", "show", "dev", self.bridge]).stdout)
        if "UP" not in link[0].get("flags", []):
            run(["ip", "link", "set", self.bridge, "up"])
        for rule in self.fw_rules():
            if run(["iptables", "-C", *rule], check=False).returncode != 0:
                run(["iptables", "-I", *rule])
                self.progress.changed("firewall: iptables -I " + shlex.join(rule))

    def remove_bridge(self) -> None:
        """Delete the bridge, but only if the lab made it (the marker in the run dir says so)."""
        if self.paths.bridge_marker.is_file():
            if self.bridge_exists():
                run(["ip", "link", "del", self.bridge])
                self.progress.say(f"network: removed bridge {self.bridge}")
            self.paths.bridge_marker.unlink()

    def isolate(self, name: str, cut: bool) -> None:
        """Detach a host's veth from the bridge and set it down, or put it back."""
        link = veth(self.paths.machine(name))
        if cut:
            run(["ip", "link", "set", "dev", link, "nomaster"])
            run(["ip", "link", "set", "dev", link, "down"])
            print(f"{name}: cut off the bridge ({link} detached)")
        else:
            run(["ip", "link", "set", "dev", link, "master", self.bridge])
            run(["ip", "link", "set", "dev", link, "up"])
            print(f"{name}: reconnected to {self.bridge}")
