"""Mirror mode (issue 16): site.yml online, from the lab's mirrors and no bundle, on the shared 1 + 2 lab's bare hosts.

The lab plays a company that mirrors pkgs.k8s.io, Debian (and Docker's containerd.io) and registry.k8s.io:
`lab.py mirror up` serves the Kubernetes apt repository made from the bundle (signed, HTTPS with the lab CA) and the
hosts' Debian packages; `lab.py registry up --upstream-images` serves the cluster's images under their upstream names
(<registry>/registry.k8s.io/kube-apiserver:v1.37.2, <registry>/kubeseed.local/...) with basic auth. The inventory sets
kubeseed_package_source online, the repository's URL and CA, containerd.io from the host's repositories, containerd
mirrors for registry.k8s.io and kubeseed.local (a path on the registry: override_path) with the registry's CA and the
node-level credentials, and no bundle URL. Checks: the nodes Ready, CoreDNS, pods on both workers reach each other by
pod IP and by Service name, a NodePort answers on both workers; the second run reports changed=0 and its -vvv output
holds no form of the registry password; --check reports changed=0. Then the lab is made bare again for the next module.
"""
from __future__ import annotations

import json
import pathlib
import subprocess
import time
import urllib.request

from _secrets import assert_no_secret
from conftest import INVENTORY, LAB, LAB_SUBNET, ROOT, kubectl, lab_address, playbook

WORKLOAD = '''
apiVersion: v1
kind: Namespace
metadata: {name: mirror}
---
apiVersion: v1
kind: Service
metadata: {name: echo-w2, namespace: mirror}
spec:
  type: NodePort
  selector: {app: echo-w2}
  ports: [{port: 80, targetPort: 8080, nodePort: 30099}]
''' + ''.join('''---
apiVersion: v1
kind: Pod
metadata: {name: echo-%(n)s, namespace: mirror, labels: {app: echo-%(n)s}}
spec:
  nodeSelector: {kubernetes.io/hostname: ks-%(n)s}
  containers:
  - name: demo
    image: kubeseed.local/demo:0.3.0
    args: [serve, -name, echo-%(n)s]
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 2}
''' % {'n': n} for n in ('w1', 'w2'))


def lab_json(*args: str) -> dict:
    proc = subprocess.run([*LAB, *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()  # progress lines, then the status as indented JSON
    return json.loads('\n'.join(lines[lines.index('{'):]))


def test_site_installs_online_from_the_labs_mirrors_and_converges(lab_cluster, tmp_path):
    mirror = lab_json('mirror', 'up')
    registry = lab_json('registry', 'up', '--upstream-images')
    host = registry['registry']
    assert f'{host}/registry.k8s.io/kube-apiserver:v1.37.2' in registry['images'], registry['images']
    ca = pathlib.Path(registry['ca_file']).read_text(encoding='utf-8')
    creds = json.loads(pathlib.Path(registry['credentials_file']).read_text(encoding='utf-8'))
    online = {
        'kubeseed_package_source': 'online',
        'kubeseed_offline_bundle_url': '',
        'kubeseed_online_repository_base_url': mirror['repository_base_url'],
        'kubeseed_online_repository_ca': pathlib.Path(mirror['ca_file']).read_text(encoding='utf-8'),
        'kubeseed_containerd_source': 'package',
        'kubeseed_containerd_package': 'containerd.io',
        'kubeseed_containerd_registry_mirrors': {'registry.k8s.io': [f'https://{host}/v2/registry.k8s.io'],
                                                 'kubeseed.local': [f'https://{host}/v2/kubeseed.local']},
        'kubeseed_containerd_registry_ca': {host: ca},
        'kubeseed_containerd_registry_credentials': {host: creds},
    }
    extra = tmp_path / 'online.json'
    extra.write_text(json.dumps(online), encoding='utf-8')
    try:
        first = playbook('site.yml', '-i', str(INVENTORY), '-e', f'@{extra}')
        print('site.yml online from the mirrors: %.0fs' % first.seconds)
        first.assert_ok()
        # what the hosts run came from the mirrors: the packages' versions, the runtime, the images by their upstream names
        nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
        ready = {n['metadata']['name']: [c['status'] for c in n['status']['conditions'] if c['type'] == 'Ready'][0] for n in nodes}
        assert ready == {'ks-cp1': 'True', 'ks-w1': 'True', 'ks-w2': 'True'}
        assert {n['status']['nodeInfo']['containerRuntimeVersion'] for n in nodes} == {'containerd://2.4.2'}
        coredns = json.loads(kubectl('-n', 'kube-system', 'get', 'deployment', 'coredns', '-o', 'json').stdout)
        assert coredns['status'].get('readyReplicas', 0) == coredns['spec']['replicas'] >= 1
        kubectl('apply', '-f', '-', stdin=WORKLOAD)
        kubectl('-n', 'mirror', 'wait', '--for=condition=Ready', 'pod/echo-w1', 'pod/echo-w2', '--timeout=180s')
        pods = {p['metadata']['name']: p for p in json.loads(kubectl('-n', 'mirror', 'get', 'pods', '-o', 'json').stdout)['items']}
        for source, target in (('echo-w1', 'echo-w2'), ('echo-w2', 'echo-w1')):
            answer = json.loads(kubectl('-n', 'mirror', 'exec', source, '--', '/demo', 'get',
                                        'http://%s:8080/' % pods[target]['status']['podIP']).stdout)
            assert answer['pod'] == target
        deadline = time.monotonic() + 60
        while True:  # the Service's endpoints and DNS record appear within seconds
            proc = kubectl('-n', 'mirror', 'exec', 'echo-w1', '--', '/demo', 'get', 'http://echo-w2.mirror.svc.cluster.local/',
                           check=False)
            if proc.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert proc.returncode == 0 and json.loads(proc.stdout)['pod'] == 'echo-w2', proc.stdout + proc.stderr
        for worker in (101, 102):
            with urllib.request.urlopen('http://%s:30099/' % lab_address(worker), timeout=10) as response:
                assert json.loads(response.read())['pod'] == 'echo-w2'
        kubectl('delete', 'namespace', 'mirror', '--wait=false')
        second = playbook('site.yml', '-i', str(INVENTORY), '-e', f'@{extra}', '-vvv')
        second.assert_ok()
        assert {h: r['changed'] for h, r in second.recap.items()} == {'ks-cp1': 0, 'ks-w1': 0, 'ks-w2': 0, 'localhost': 0}, \
            second.output[-3000:]
        assert_no_secret(second.output, [creds['password'], '%s:%s' % (creds['username'], creds['password'])], 'site.yml -vvv')
        check = playbook('site.yml', '-i', str(INVENTORY), '-e', f'@{extra}', '--check', '--diff')
        check.assert_ok()
        assert sum(r['changed'] for r in check.recap.values()) == 0, check.output[-3000:]
    finally:
        # the next module (tests/e2e/test_role_includes.py) starts from bare hosts, as fresh_lab gives them
        subprocess.run([*LAB, 'down'], cwd=ROOT, check=True)
        subprocess.run([*LAB, '--subnet', LAB_SUBNET, 'up', '--control-planes', '1', '--workers', '2'],
                       cwd=ROOT, check=True)
