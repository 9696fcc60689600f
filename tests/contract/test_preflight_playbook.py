"""site.yml stops in preflight, on the controller, before any host is touched."""
from __future__ import annotations

import re

import pytest
import yaml

RECAP = re.compile(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def recap(output: str) -> dict:
    return {m.group(1): tuple(int(x) for x in m.groups()[1:]) for m in RECAP.finditer(output)}


def test_broken_variable_fails_in_preflight_and_no_host_is_touched(playbook):
    result = playbook('site.yml', '-i', 'inventories/example', '--check',
                      '-e', 'kubeseed_pod_subnet=10.244.0.0/33', '-e', 'kubeseed_cni_plugin=weave')
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "kubeseed_pod_subnet: '10.244.0.0/33' is not a valid CIDR" in out
    assert "kubeseed_cni_plugin: 'weave' is not one of: bridge, none" in out
    assert 'nothing was changed on any host' in out
    # Only the controller ran anything: no cluster host appears in the recap.
    assert set(recap(out)) == {'localhost'}, out
    assert 'TASK [kubeseed.cluster.preflight : Gather the facts' not in out


def test_inventory_problem_names_host_and_group(playbook, tmp_path):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(
        'all:\n  children:\n    control_plane:\n      hosts:\n        cp1: {ansible_host: 192.0.2.10}\n        cp2: {ansible_host: 192.0.2.11}\n'
        '    workers:\n      hosts:\n        cp2: {}\n        w1: {ansible_host: 192.0.2.20}\n', encoding='utf-8')
    result = playbook('site.yml', '-i', str(inventory), '--check')
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "host 'cp2' is in both groups 'control_plane' and 'workers'" in out
    assert "group 'control_plane' has 2 hosts (cp1, cp2); stacked etcd needs an odd number" in out
    assert 'kubeseed_control_plane_endpoint: is empty but there are 2 control planes' in out
    assert set(recap(out)) == {'localhost'}


def test_example_inventory_is_valid(playbook):
    result = playbook('playbooks/validate.yml', '-i', 'inventories/example')
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result.stdout)['localhost'][1] == 0  # changed=0


def test_awx_sample_inventory_is_valid_with_a_role_setting(playbook):
    """docs/awx-project sets a role setting (kubeseed_control_plane_fetch_kubeconfig) next to contract variables."""
    result = playbook('playbooks/validate.yml', '-i', 'docs/awx-project/inventory')
    assert result.returncode == 0, result.stdout + result.stderr


def test_role_setting_of_the_wrong_type_is_rejected(playbook, tmp_path):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text('all:\n  children:\n    control_plane:\n      hosts:\n        cp1: {ansible_host: 192.0.2.11}\n'
                         '  vars:\n    kubeseed_control_plane_ready_timeout: soon\n', encoding='utf-8')
    result = playbook('playbooks/validate.yml', '-i', str(inventory))
    assert result.returncode != 0
    assert 'kubeseed_control_plane_ready_timeout' in result.stdout and 'int' in result.stdout, result.stdout


def test_a_limit_without_localhost_still_validates_first(playbook):
    """`site.yml -l worker1` (scale out, fix one node) must not skip the validation with the localhost play."""
    result = playbook('site.yml', '-i', 'inventories/example', '--check', '-l', 'worker3.k8s.example.com',
                      '-e', 'kubeseed_pod_subnet=10.244.0.0/33')
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "kubeseed_pod_subnet: '10.244.0.0/33' is not a valid CIDR" in out
    # ssh is /bin/false here: an attempt to reach the host would show as unreachable.
    assert recap(out) == {'worker3.k8s.example.com': (2, 0, 0, 1)}, out
    assert 'TASK [kubeseed.cluster.preflight : Gather the facts' not in out


def test_site_has_a_tag_per_phase_and_validation_runs_whatever_the_tags(playbook):
    listed = playbook('site.yml', '-i', 'inventories/example', '--list-tags')
    assert listed.returncode == 0, listed.stdout + listed.stderr
    tags = set(
        t.strip() for line in re.findall(r'TASK TAGS: \[([^\]]*)\]', listed.stdout) for t in line.split(','))
    assert {'preflight', 'node', 'containerd', 'packages', 'control_plane', 'workers', 'cni', 'ready'} <= tags, tags
    # a broken variable stops a run limited to one phase too, before any host is touched
    result = playbook('site.yml', '-i', 'inventories/example', '--check', '--tags', 'cni', '-e', 'kubeseed_cni_plugin=weave')
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "kubeseed_cni_plugin: 'weave' is not one of" in out
    assert set(recap(out)) == {'localhost'}, out
    # and one limited to a host, without localhost (the validation and the groups come from the include in the second play)
    result = playbook('site.yml', '-i', 'inventories/example', '--check', '--tags', 'node', '-l', 'worker3.k8s.example.com',
                      '-e', 'kubeseed_cni_plugin=weave')
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "kubeseed_cni_plugin: 'weave' is not one of" in out, out
    result = playbook('site.yml', '-i', 'inventories/example', '--check', '--tags', 'node', '-l', 'worker3.k8s.example.com')
    out = result.stdout + result.stderr
    # valid: the node play then runs on the host (ssh is /bin/false here, so its first task fails there): not a silent no-op
    assert recap(out)['worker3.k8s.example.com'][3] == 1 and 'TASK [kubeseed.cluster.node : ' in out, out


def test_renamed_groups_are_what_the_plays_run_on(playbook, tmp_path):
    """Groups named masters and nodes (kubeseed_control_plane_group, kubeseed_workers_group in group_vars/all): validation
    passes and the host plays target their hosts (ssh is /bin/false here, so the first host task fails on each of them)."""
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(
        'all:\n  vars:\n    kubeseed_control_plane_group: masters\n    kubeseed_workers_group: nodes\n'
        '  children:\n    masters:\n      hosts:\n        cp1: {ansible_host: 192.0.2.10}\n'
        '    nodes:\n      hosts:\n        w1: {ansible_host: 192.0.2.20}\n        w2: {ansible_host: 192.0.2.21}\n', encoding='utf-8')
    for book, first_host_task in (('site.yml', 'kubeseed.cluster.preflight : Refuse to change the Kubernetes version or the cgroup driver'),
                                  ('playbooks/cluster.yml', 'kubeseed.cluster.node : ')):
        result = playbook(book, '-i', str(inventory), '--check')
        out = result.stdout + result.stderr
        # the first task that reached for a host: its role, and it reached all three
        section = next(s for s in re.split(r'\n(?:TASK|PLAY) \[', out) if 'fatal: [' in s)
        assert section.startswith(first_host_task) and all('fatal: [%s]' % h in section for h in ('cp1', 'w1', 'w2')), out
        counts = recap(out)
        assert counts.pop('localhost')[3] == 0, out  # the validation passed
        assert {host: failed for host, (_ok, _changed, _unreachable, failed) in counts.items()} == {'cp1': 1, 'w1': 1, 'w2': 1}, out
    # the same inventory without the variables: the validation names the missing group, no host is reached
    inventory.write_text(inventory.read_text(encoding='utf-8').replace('    kubeseed_control_plane_group: masters\n', ''), encoding='utf-8')
    result = playbook('site.yml', '-i', str(inventory), '--check')
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "group 'control_plane' has no hosts" in out, out
    assert set(recap(out)) == {'localhost'}, out


def test_a_retry_file_limit_with_localhost_in_the_inventory_still_validates_and_runs(playbook, tmp_path):
    """localhost listed in the inventory and a limit from a retry file: the first play matches nothing, the second validates
    and names the groups, and the host plays then run on the host (not a silent 'no hosts matched')."""
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text('all:\n  hosts:\n    localhost: {ansible_connection: local}\n  children:\n    control_plane:\n      hosts:\n'
                         '        cp1: {ansible_host: 192.0.2.10}\n    workers:\n      hosts:\n        w1: {ansible_host: 192.0.2.20}\n',
                         encoding='utf-8')
    retry = tmp_path / 'site.retry'
    retry.write_text('cp1\n', encoding='utf-8')
    result = playbook('playbooks/cluster.yml', '-i', str(inventory), '--check', '-l', '@%s' % retry)
    out = result.stdout + result.stderr
    assert 'TASK [kubeseed.cluster.preflight : Validate the inventory' in out, out
    assert recap(out)['cp1'][3] == 1 and 'TASK [kubeseed.cluster.node : ' in out, out


def _support_checks(root) -> list:
    """The preflight's operating system and architecture checks, as roles/preflight/tasks/hosts.yml has them."""
    blocks = yaml.safe_load((root / 'roles' / 'preflight' / 'tasks' / 'hosts.yml').read_text(encoding='utf-8'))
    tasks = [task for block in blocks for task in block.get('block', [])]
    return [task for task in tasks if task['name'] in ('Check the operating system is supported', 'Check the CPU architecture is supported')]


@pytest.mark.parametrize('facts, message', [
    ({'os_family': 'Debian', 'distribution': 'Debian', 'distribution_version': '12.8', 'distribution_major_version': '12',
      'architecture': 'x86_64'}, None),
    ({'os_family': 'RedHat', 'distribution': 'Rocky', 'distribution_version': '9.4', 'distribution_major_version': '9',
      'architecture': 'x86_64'}, 'Rocky 9.4 is not supported: kubeseed installs Debian-family hosts only (apt); hosts of the RedHat family are refused'),
    ({'os_family': 'Debian', 'distribution': 'Ubuntu', 'distribution_version': '24.04', 'distribution_major_version': '24',
      'architecture': 'x86_64'}, 'Ubuntu 24.04 is not supported: kubeseed supports {"Debian": ["12"]} (see kubeseed_preflight_supported_os)'),
    ({'os_family': 'Debian', 'distribution': 'Debian', 'distribution_version': '12.8', 'distribution_major_version': '12',
      'architecture': 'aarch64'}, 'architecture aarch64 is not one of x86_64'),
])
def test_only_the_tested_debian_family_hosts_pass_the_preflight(playbook, root, tmp_path, facts, message):
    """Debian 12 on x86-64 passes; a RHEL-family host is refused whatever kubeseed_preflight_supported_os holds."""
    book = [{'hosts': 'localhost', 'gather_facts': False, 'vars_files': [str(root / 'roles' / 'preflight' / 'defaults' / 'main.yml')],
             'tasks': [{'ansible.builtin.set_fact': dict(facts, cacheable=True)}, *_support_checks(root)]}]
    path = tmp_path / 'support.yml'
    path.write_text(yaml.safe_dump(book), encoding='utf-8')
    result = playbook(str(path), '-i', 'localhost,', '-c', 'local')
    out = result.stdout + result.stderr
    if message is None:
        assert result.returncode == 0, out
    else:
        assert result.returncode != 0 and message in out, out
    if facts['os_family'] == 'RedHat':
        # widening the supported list does not let a host of another family in
        result = playbook(str(path), '-i', 'localhost,', '-c', 'local', '-e', '{"kubeseed_preflight_supported_os": {"Rocky": ["9"]}}')
        assert result.returncode != 0 and 'hosts of the RedHat family are refused' in result.stdout, result.stdout
