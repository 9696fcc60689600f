"""roles/containerd checks.yml: where containerd comes from (kubeseed_containerd_source auto/bundle/package) and the
refusal of a host that lacks what containerd 2.x needs, decided on the controller from what a node reported (the real
role tasks through ansible-playbook on localhost; the lab e2e runs them against real nodes)."""
from __future__ import annotations

import json

import pytest

PLAY = """
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - ansible.builtin.include_role:
        name: kubeseed.cluster.containerd
        tasks_from: checks
      vars:
        __kubeseed_containerd_current: "{{ current | default('') }}"
        __kubeseed_containerd_node_state: "{{ state | default('absent') }}"
        __kubeseed_containerd_host_missing: "{{ missing | default([]) }}"
        __kubeseed_containerd_distribution: "{{ distribution | default('') }}"
    - ansible.builtin.debug:
        msg: "FROM={{ __kubeseed_containerd_from }}"
"""


def decide(playbook, tmp_path, **extra):
    play = tmp_path / 'play.yml'
    play.write_text(PLAY, encoding='utf-8')
    args = ['-i', 'localhost,', str(play), '-e', json.dumps({'kubeseed_kubernetes_version': '1.37.2', **extra})]
    result = playbook(*args)
    out = result.stdout + result.stderr
    found = [line.split('FROM=')[1].strip().strip('"') for line in out.splitlines() if 'FROM=' in line and '{{' not in line]
    return result.returncode, (found[0] if found else None), out


@pytest.mark.parametrize('settings, expected', [
    ({'kubeseed_package_source': 'offline', 'kubeseed_offline_bundle_url': 'http://10.0.0.1/b'}, 'bundle'),
    # online: the distribution's package when it is new enough for 1.37 (2.3.0) ...
    ({'kubeseed_package_source': 'online', 'kubeseed_offline_bundle_url': 'http://10.0.0.1/b', 'distribution': '2.3.1'},
     'package'),
    # ... the bundle's when it is older and a bundle is at hand ...
    ({'kubeseed_package_source': 'online', 'kubeseed_offline_bundle_url': 'http://10.0.0.1/b', 'distribution': '1.6.20'},
     'bundle'),
    # ... the package (then refused by its version) without a bundle, or when its version is not known
    ({'kubeseed_package_source': 'online', 'distribution': '1.6.20'}, 'package'),
    ({'kubeseed_package_source': 'online', 'kubeseed_offline_bundle_url': 'http://10.0.0.1/b', 'distribution': ''}, 'package'),
    # what the inventory says wins
    ({'kubeseed_package_source': 'online', 'kubeseed_containerd_source': 'bundle', 'kubeseed_offline_bundle_url': 'http://x/b'},
     'bundle'),
    ({'kubeseed_package_source': 'offline', 'kubeseed_containerd_source': 'package', 'distribution': '1.6.20'}, 'package'),
])
def test_where_containerd_comes_from(playbook, tmp_path, settings, expected):
    rc, found, out = decide(playbook, tmp_path, **settings)
    assert rc == 0, out
    assert found == expected, out


def test_a_host_without_what_containerd_needs_is_refused_with_the_reason(playbook, tmp_path):
    rc, found, out = decide(playbook, tmp_path, kubeseed_package_source='offline', kubeseed_offline_bundle_url='http://x/b',
                            missing=['systemd is not the init system (/run/systemd/system is missing)'])
    assert rc != 0 and found is None, out
    assert 'localhost: systemd is not the init system (/run/systemd/system is missing)' in out


def test_a_node_on_containerd_1_is_sent_to_the_upgrade_playbook_with_the_bundles_runtime(playbook, tmp_path):
    rc, found, out = decide(playbook, tmp_path, kubeseed_package_source='online', kubeseed_offline_bundle_url='http://x/b',
                            distribution='1.6.20', current='1.6.20', state='member')
    assert rc != 0, out
    assert 'kubeseed.cluster.upgrade -i <inventory> -e kubeseed_containerd_source=bundle`' in out.replace('\n', ' '), out
    rc, found, out = decide(playbook, tmp_path, kubeseed_package_source='offline', kubeseed_offline_bundle_url='http://x/b',
                            current='1.6.20', state='member')
    assert rc != 0, out
    assert 'kubeseed.cluster.upgrade -i <inventory>` (it drains' in out.replace('\n', ' '), out
