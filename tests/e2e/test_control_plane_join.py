"""Three control planes (stacked etcd) and a worker, from bare hosts in one site.yml run: control-plane joins with the
uploaded certificate key, no token or certificate key in the -vvv output, a no-op re-run; the API server's virtual IP
(kubeseed_control_plane_vip, which lab.py writes into the inventory of a lab with several control planes) as the endpoint
of every kubeconfig and join, and a control plane stopped while the controller and apps.yml keep working through it;
then day 2 on three etcd members: a restore, and control-plane removal that keeps etcd's quorum. scripts/test.sh runs this
module on a lab of its own (KUBESEED_LAB_NAME=ha) beside the modules of the shared 1 + 2 lab; run alone on the default lab,
it replaces that lab (it comes last in MODULE_ORDER, conftest.py).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request

import yaml

from _secrets import assert_no_secret
from conftest import INVENTORY, LAB, ROOT, VENV_BIN, adhoc, changed_tasks, kubeconfig, kubectl, lab_address, playbook

VIP = lab_address(10)  # tools/lab: the address below the first control plane's
WORKER = lab_address(101)  # ks-w1
CERT_KEY = re.compile(r'(certificate_key|certificateKey|certificate key)\W{1,6}[a-f0-9]{64}', re.I)
TOKEN = re.compile(r'\b[a-z0-9]{6}\.[a-z0-9]{16}\b')


def test_molecule_converges_the_node_role_on_a_bare_host(lab_ha):
    """extensions/molecule/node on the bare worker of this lab: converge, idempotence (changed=0), verify."""
    env = dict(os.environ, KUBESEED_LAB_INVENTORY=str(lab_ha), KUBESEED_MOLECULE_HOST='ks-w1', ANSIBLE_NOCOLOR='1', NO_COLOR='1', PY_COLORS='0',
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.ansible' / 'collections'), PATH='%s:%s' % (VENV_BIN, os.environ['PATH']))
    proc = subprocess.run([str(VENV_BIN / 'molecule'), 'test', '-s', 'node'], cwd=ROOT / 'extensions', env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    # the host was bare: the first converge changed it (molecule's idempotence step fails the run on a change)
    first = next(re.finditer(r'^ks-w1\s+: ok=\d+\s+changed=(\d+)', out, re.M), None)
    assert first and int(first.group(1)) > 0, out[-4000:]


def test_three_control_planes_join_and_rerun_changes_nothing(lab_ha, tmp_path):
    """One control plane with the virtual IP first (-l ks-cp1), grown to three by a run limited to the control planes,
    then the worker with a run limited to it: the control planes get the route to its pod range from that run (their
    other tasks are outside the limit), then a full re-run changes nothing."""
    single = playbook('site.yml', '-i', str(lab_ha), '-l', 'ks-cp1')
    print('1 control plane with the virtual IP, from a bare host: %.0fs' % single.seconds)
    single.assert_ok()
    assert _vip_holders() == ['ks-cp1']
    first = playbook('-vvv', 'site.yml', '-i', str(lab_ha), '-l', 'ks-cp1,ks-cp2,ks-cp3',
                     log=tmp_path / 'ha-first-vvv.log')
    print('grown to 3 control planes (two joined through the virtual IP): %.0fs' % first.seconds)
    first.assert_ok()
    assert set(first.recap) == {'ks-cp1', 'ks-cp2', 'ks-cp3'}
    grown = changed_tasks(first.output)
    init = 'kubeseed.cluster.control_plane : Initialise the first control plane (once; afterwards compare the live configuration)'
    assert init not in grown, grown  # the cluster of the first run, grown
    assert sorted(grown.get('kubeseed.cluster.control_plane : Join as a control plane (one at a time, so etcd grows safely)', [])) \
        == ['ks-cp2', 'ks-cp3'], grown
    assert not CERT_KEY.search(first.output), 'a certificate key is in the -vvv output'
    assert not TOKEN.search(first.output), 'a bootstrap token is in the -vvv output'
    live = TOKEN.findall(adhoc('ks-cp1', 'ansible.builtin.command', 'kubeadm token list --kubeconfig /etc/kubernetes/admin.conf',
                               lab_ha).stdout)
    assert live, 'expected the join tokens created by the run to be listed'
    assert_no_secret(first.output, live, 'site.yml -vvv output (3 control planes)')

    worker = playbook('site.yml', '-i', str(lab_ha), '-l', 'ks-w1')
    print('site.yml -l ks-w1 (join one worker): %.0fs' % worker.seconds)
    worker.assert_ok()
    # what the run changed on the control planes: delegated tasks (changed: [ks-w1 -> ks-cpN]), the route file and routes only
    elsewhere, task = set(), None
    for line in worker.output.splitlines():
        task = line[len('TASK ['):].split(']')[0] if line.startswith('TASK [') else task
        delegated = re.match(r'changed: \[ks-w1 -> (ks-cp\d)\b', line)
        if delegated:
            elsewhere.add((task.split(' on ks-cp')[0], delegated.group(1)))
    routes = {(name, cp) for cp in ('ks-cp1', 'ks-cp2', 'ks-cp3') for name in (
        "kubeseed.cluster.cni : Routes to the other nodes' pod ranges",
        'kubeseed.cluster.cni : Apply the routes (in check mode only when its route file is current)')}
    token = ('kubeseed.cluster.workers : Create a join token (only when a worker must join)', 'ks-cp1')
    assert routes <= elsewhere and elsewhere - routes <= {token}, elsewhere
    w1_range = [n['spec']['podCIDR'] for n in json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
                if n['metadata']['name'] == 'ks-w1'][0]
    routes = adhoc('ks-cp1:ks-cp2:ks-cp3', 'ansible.builtin.command', 'ip route show %s' % w1_range, lab_ha).stdout
    assert routes.count('via %s' % WORKER) == 3, routes

    second = playbook('site.yml', '-i', str(lab_ha))
    print('no-op re-run: %.0fs' % second.seconds)
    second.assert_ok()
    assert {h: r['changed'] for h, r in second.recap.items() if r['changed']} == {}

    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)
    ready = sorted(n['metadata']['name'] for n in nodes['items']
                   if [c['status'] for c in n['status']['conditions'] if c['type'] == 'Ready'] == ['True'])
    assert ready == ['ks-cp1', 'ks-cp2', 'ks-cp3', 'ks-w1']
    etcd = json.loads(kubectl('-n', 'kube-system', 'get', 'pods', '-l', 'component=etcd', '-o', 'json').stdout)
    assert sorted(p['spec']['nodeName'] for p in etcd['items'] if p['status']['phase'] == 'Running') == ['ks-cp1', 'ks-cp2', 'ks-cp3']

    # the virtual IP is the endpoint of the controller's kubeconfig, of kubeadm's record, kube-proxy and the worker's kubelet
    with open(kubeconfig(), encoding='utf-8') as handle:
        assert [c['cluster']['server'] for c in yaml.safe_load(handle)['clusters']] == ['https://%s:6443' % VIP]
    recorded = kubectl('-n', 'kube-system', 'get', 'configmap', 'kubeadm-config', '-o', 'jsonpath={.data.ClusterConfiguration}').stdout
    assert yaml.safe_load(recorded)['controlPlaneEndpoint'] == '%s:6443' % VIP
    proxy = kubectl('-n', 'kube-system', 'get', 'configmap', 'kube-proxy', '-o', 'jsonpath={.data.kubeconfig\\.conf}').stdout
    assert 'server: https://%s:6443' % VIP in proxy, proxy
    kubelet = adhoc('ks-w1', 'ansible.builtin.command', 'grep -h "server:" /etc/kubernetes/kubelet.conf', lab_ha).stdout
    assert 'server: https://%s:6443' % VIP in kubelet, kubelet
    assert len(_vip_holders()) == 1
    # CoreDNS, which kubeadm started on ks-cp1 alone, runs on two nodes
    coredns = json.loads(kubectl('-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kube-dns', '-o', 'json').stdout)['items']
    assert len({p['spec']['nodeName'] for p in coredns if p['status']['phase'] == 'Running'}) == 2, coredns


def _vip_holders() -> list:
    """The control planes that have the virtual IP on an interface now (asked on each with ip; a stopped one is left out)."""
    proc = adhoc('ks-cp1:ks-cp2:ks-cp3', 'ansible.builtin.command', 'ip -o -4 addr show to %s/32' % VIP)
    return sorted(host for host, text in _per_host(proc).items() if ' inet %s/32 ' % VIP in text)


def _until(what: str, call, timeout: float) -> float:
    """Seconds until call() returns true (polled every 0.25 s); fails with what after timeout."""
    started = time.monotonic()
    while not call():
        assert time.monotonic() - started < timeout, '%s: not within %.0f s' % (what, timeout)
        time.sleep(0.25)
    return time.monotonic() - started


def _api_answers() -> bool:
    return kubectl('get', '--raw', '/readyz', '--request-timeout=2s', check=False).returncode == 0


def test_a_stopped_control_plane_gives_the_virtual_ip_to_another_and_the_cluster_keeps_working(lab_ha):
    """Stop the control plane that holds the virtual IP: another one takes it over within the bound docs/ha.md gives (plus
    the controller's retries), kubectl on the controller and apps.yml keep working through it; started again, the stopped
    one comes back by itself without taking the address back, and site.yml changes nothing."""
    [holder] = _vip_holders()
    subprocess.run([*LAB, 'stop', holder], cwd=ROOT, check=True)
    stopped = time.monotonic()
    seconds = _until('the API server answering through the virtual IP after %s stopped' % holder, _api_answers, 60)
    print('%s stopped: the API answered again through %s after %.1f s' % (holder, VIP, seconds))
    [taken_over] = _vip_holders()
    assert taken_over != holder
    nodes = kubectl('get', 'nodes', '-o', 'name').stdout.split()
    assert len(nodes) == 4, nodes

    demo = playbook('playbooks/apps.yml', '-i', str(lab_ha), '-e', '@tools/demo/services.yml')
    print('apps.yml (the demo services) with %s down: %.0fs' % (holder, demo.seconds))
    demo.assert_ok()
    assert demo.recap['localhost']['changed'] > 0
    # the frontend calls the backend by its Service name: CoreDNS (spread over the control planes by site.yml) answers too;
    # a probe until 10 answers in a row, failures counted and reported
    failed, in_a_row, started = 0, 0, time.monotonic()
    while in_a_row < 10:
        assert time.monotonic() - started < 120, 'the demo did not answer 10 times in a row within 120 s (%d failed)' % failed
        try:
            with urllib.request.urlopen('http://%s:30080/' % WORKER, timeout=5) as response:
                in_a_row = in_a_row + 1 if response.status == 200 else 0
        except OSError:
            failed, in_a_row = failed + 1, 0
        time.sleep(0.2)
    print('demo through the NodePort with %s down: %d failed requests before 10 answers in a row' % (holder, failed))

    subprocess.run([*LAB, 'start', holder], cwd=ROOT, check=True)
    kubectl('wait', '--for=condition=Ready', 'node/%s' % holder, '--timeout=300s')
    print('%s Ready again %.0f s after it was stopped' % (holder, time.monotonic() - stopped))
    again = playbook('site.yml', '-i', str(lab_ha))
    print('site.yml after %s came back: %.0fs' % (holder, again.seconds))
    again.assert_ok()
    assert {h: r['changed'] for h, r in again.recap.items() if r['changed']} == {}
    # healthy control planes never take the address from each other: it stays where it went
    assert _vip_holders() == [taken_over]


API_VARS = ['-e', '{"kubeseed_apiserver_extra_args": {"audit-log-maxage": 30, "profiling": false}, '
            '"kubeseed_apiserver_cert_extra_sans": ["api.kubeseed.test", "10.117.0.99"]}']
BAD_FLAG = ['-e', '{"kubeseed_apiserver_extra_args": {"audit-log-maxage": 30, "profiling": false, "no-such-flag": "x"}, '
            '"kubeseed_apiserver_cert_extra_sans": ["api.kubeseed.test", "10.117.0.99"]}']
CONTROL_PLANES = {'ks-cp%d' % i: lab_address(10 + i) for i in (1, 2, 3)}
APPLY_TASK = "kubeseed.cluster.apiserver : This control plane's API server with the new flags and certificate names, restarted and waited for"
RECORD_TASK = 'kubeseed.cluster.apiserver : The cluster\'s API server settings (ConfigMap kube-system/kubeadm-config)'


def _per_host(proc) -> dict:
    """{host: its output} from adhoc()."""
    found, host = {}, None
    for line in proc.stdout.splitlines():
        match = re.match(r'^(ks-\S+) \| ', line)
        host = match.group(1) if match else host
        if host:
            found[host] = found.get(host, '') + line + '\n'
    return found


def _running_flags() -> dict:
    """{control plane: the flags its running kube-apiserver process has} (read from its /proc, not from the manifest)."""
    proc = adhoc(':'.join(CONTROL_PLANES), 'ansible.builtin.command', 'ps -C kube-apiserver -o args=', INVENTORY)
    return {host: set(re.findall(r'--[a-z0-9-]+=\S*', text)) for host, text in _per_host(proc).items()}


def _served_names() -> dict:
    """{control plane: the names in the certificate its API server serves} (a TLS handshake from ks-cp1)."""
    script = '; '.join('echo "== %s"; echo | openssl s_client -connect %s:6443 2>/dev/null | openssl x509 -noout -ext subjectAltName'
                       % (host, address) for host, address in CONTROL_PLANES.items())
    out = adhoc('ks-cp1', 'ansible.builtin.shell', script, INVENTORY).stdout
    return dict(re.findall(r'== (ks-cp\d)\s+X509v3 Subject Alternative Name:\s*\n\s*([^\n]+)', out))


def _recorded() -> dict:
    """apiServer of the ClusterConfiguration kubeadm keeps (ConfigMap kube-system/kubeadm-config)."""
    text = kubectl('-n', 'kube-system', 'get', 'configmap', 'kubeadm-config', '-o', 'jsonpath={.data.ClusterConfiguration}').stdout
    return yaml.safe_load(text).get('apiServer') or {}


def test_api_server_flags_and_names_change_live_one_control_plane_at_a_time(lab_ha):
    """kubeseed_apiserver_extra_args and kubeseed_apiserver_cert_extra_sans on the running 3-control-plane cluster: --check
    predicts a restart on each control plane and changes nothing; the run restarts them one at a time (each running process
    gets the flags, each served certificate the names), then records both in kubeadm-config; a re-run changes nothing; a
    flag the API server refuses stops the run at the first control plane with its error, that one rolled back, the others
    untouched; a full site.yml without the variables removes them everywhere."""
    check = playbook('site.yml', '-i', str(lab_ha), *API_VARS, '--tags', 'apiserver', '--check', '--diff')
    check.assert_ok()
    predicted = changed_tasks(check.output)
    assert sorted(predicted.get(APPLY_TASK, [])) == sorted(CONTROL_PLANES), predicted
    assert '+--audit-log-maxage=30' in check.output and '+--profiling=false' in check.output
    assert not any('--audit-log-maxage=30' in flags for flags in _running_flags().values())

    run = playbook('site.yml', '-i', str(lab_ha), *API_VARS, '--tags', 'apiserver')
    print('API server flags and names on 3 control planes (--tags apiserver): %.0fs' % run.seconds)
    run.assert_ok()
    assert sorted(changed_tasks(run.output).get(APPLY_TASK, [])) == sorted(CONTROL_PLANES)
    # one at a time: the play ran three times (serial 1), the record once, after the last control plane
    batches = [line for line in run.output.splitlines() if line.startswith('TASK [%s]' % APPLY_TASK)]
    assert len(batches) == 3, batches
    recorded = [hosts for task, hosts in changed_tasks(run.output).items() if task.startswith(RECORD_TASK)]
    assert recorded == [['ks-cp3']], recorded  # the last control plane's batch, once all three run with them
    flags = _running_flags()
    assert set(flags) == set(CONTROL_PLANES) and all({'--audit-log-maxage=30', '--profiling=false'} <= f for f in flags.values()), flags
    names = _served_names()
    assert set(names) == set(CONTROL_PLANES), names
    assert all('DNS:api.kubeseed.test' in n and 'IP Address:10.117.0.99' in n for n in names.values()), names
    assert _recorded() == {'certSANs': ['api.kubeseed.test', '10.117.0.99'],
                           'extraArgs': [{'name': 'audit-log-maxage', 'value': '30'}, {'name': 'profiling', 'value': 'false'}]}
    again = playbook('site.yml', '-i', str(lab_ha), *API_VARS, '--tags', 'apiserver')
    again.assert_ok()
    assert {h: r['changed'] for h, r in again.recap.items() if r['changed']} == {}

    bad = playbook('site.yml', '-i', str(lab_ha), *BAD_FLAG, '--tags', 'apiserver')
    print('a flag the API server refuses, rolled back on ks-cp1: %.0fs' % bad.seconds)
    assert bad.rc != 0 and bad.recap['ks-cp1']['failed'] == 1, bad.output[-4000:]
    assert 'unknown flag: --no-such-flag' in bad.said, bad.said[-3000:]
    assert 'The previous manifest and certificate were put back (the API server is healthy again)' in bad.said, bad.said[-3000:]
    assert not bad.recap['ks-cp2']['failed'] and not bad.recap['ks-cp3']['failed']
    assert APPLY_TASK not in changed_tasks(bad.output)
    assert all('--no-such-flag=x' not in f and '--audit-log-maxage=30' in f for f in _running_flags().values())
    assert 'no-such-flag' not in json.dumps(_recorded())

    removed = playbook('site.yml', '-i', str(lab_ha))
    print('site.yml without them (removed on 3 control planes): %.0fs' % removed.seconds)
    removed.assert_ok()
    changed = {t: h for t, h in changed_tasks(removed.output).items() if not t.startswith('kubeseed.cluster.apiserver :')}
    assert changed == {}, changed  # kubeadm_init reports them as reconfigurable, not as drift
    assert all(not any(x in f for x in ('--audit-log-maxage=30', '--profiling=false')) for f in _running_flags().values())
    assert all('api.kubeseed.test' not in n for n in _served_names().values())
    assert _recorded() == {}


def _etcd_members() -> list:
    """Names of the etcd members, asked on ks-cp1 with the bundle's etcdctl that the control planes got."""
    proc = adhoc('ks-cp1', 'ansible.builtin.command',
                 'etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/kubernetes/pki/etcd/ca.crt '
                 '--cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key '
                 'member list -w json')
    assert ' | CHANGED | rc=0 ' in proc.stdout, proc.stdout + proc.stderr
    return sorted(m['name'] for m in json.loads(proc.stdout.split('(stdout) ', 1)[1])['members'])


def test_three_member_restore_then_removing_control_planes_keeps_etcd_quorum(lab_ha, tmp_path):
    """restore.yml on 3 stacked etcd members brings back a deleted ConfigMap; with ks-cp3 down, removing ks-cp2 is refused
    (the 2 members left would have 1 healthy), removing ks-cp3 (down) is not: its Node and etcd member go."""
    backups = tmp_path / 'backups'
    kubectl('create', 'configmap', 'e2e-ha', '--from-literal=state=backed-up')
    backup = playbook('playbooks/backup.yml', '-i', str(lab_ha), '-e', 'kubeseed_backup_dir=%s' % backups)
    backup.assert_ok()
    [name] = os.listdir(backups)
    kubectl('delete', 'configmap', 'e2e-ha')
    restore = playbook('playbooks/restore.yml', '-i', str(lab_ha), '-e', 'kubeseed_backup_dir=%s' % backups, '-e',
                       'kubeseed_restore_backup=%s' % name, '-e', 'kubeseed_restore_confirm=kubeseed')
    print('restore.yml, 3 members: %.0fs' % restore.seconds)
    restore.assert_ok()
    assert kubectl('get', 'configmap', 'e2e-ha', '-o', 'jsonpath={.data.state}').stdout == 'backed-up'
    assert _etcd_members() == ['ks-cp1', 'ks-cp2', 'ks-cp3']

    subprocess.run([*LAB, 'stop', 'ks-cp3'], cwd=ROOT, check=True)
    _until('the API through the virtual IP after ks-cp3 stopped', _api_answers, 60)  # ks-cp3 may have held it
    refused = playbook('playbooks/remove_node.yml', '-i', str(lab_ha), '-e', '{"kubeseed_remove_nodes": ["ks-cp2"]}')
    assert refused.rc != 0 and 'nothing was removed' in refused.said and 'need 2 healthy' in refused.said, refused.output[-3000:]
    assert {h: r['changed'] for h, r in refused.recap.items() if r['changed']} == {}
    assert _etcd_members() == ['ks-cp1', 'ks-cp2', 'ks-cp3']

    removed = playbook('playbooks/remove_node.yml', '-i', str(lab_ha), '-e', '{"kubeseed_remove_nodes": ["ks-cp3"]}')
    print('remove_node.yml ks-cp3 (down): %.0fs' % removed.seconds)
    removed.assert_ok()
    assert 'remove etcd member ks-cp3' in removed.said and 'ks-cp3 did not answer' in removed.said, removed.said[-3000:]
    assert _etcd_members() == ['ks-cp1', 'ks-cp2']
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    assert sorted(n['metadata']['name'] for n in nodes) == ['ks-cp1', 'ks-cp2', 'ks-w1']
