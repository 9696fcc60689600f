"""The cluster on the shared 1 control plane + 2 workers lab (real kubeadm, kubelet, containerd over SSH), built by
tests/e2e/test_role_includes.py: check mode on it changes nothing, nodes and CoreDNS Ready, pod traffic across
workers, the demo services, drift made by hand predicted and repaired, node labels and taints.

The tests run in file order on that one cluster.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import pathlib
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm import ca_cert_hash
from conftest import INVENTORY, LAB, ROOT, adhoc, bundle_path, changed_tasks, kubeconfig, kubectl, needs_cluster, playbook


def _renamed_inventory(inventory: pathlib.Path, tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of the lab inventory whose groups are masters and nodes, named by the group variables in group_vars/all."""
    copy = tmp_path / 'renamed'
    shutil.copytree(inventory, copy)
    hosts = (copy / 'hosts.yml').read_text(encoding='utf-8')
    assert '    control_plane:\n' in hosts and '    workers:\n' in hosts
    (copy / 'hosts.yml').write_text(hosts.replace('    control_plane:\n', '    masters:\n').replace('    workers:\n', '    nodes:\n'),
                                    encoding='utf-8')
    (copy / 'group_vars' / 'all' / 'groups.yml').write_text('kubeseed_control_plane_group: masters\nkubeseed_workers_group: nodes\n',
                                                            encoding='utf-8')
    return copy


def test_check_diff_on_the_converged_cluster_changes_nothing(lab_cluster, tmp_path):
    """Also with the inventory's groups renamed (masters, nodes): every phase reaches every host and predicts nothing."""
    needs_cluster()
    run = playbook('site.yml', '-i', str(_renamed_inventory(lab_cluster, tmp_path)), '--check', '--diff')
    run.assert_ok()
    assert {h: r['changed'] for h, r in run.recap.items() if r['changed']} == {}
    assert {h for h, r in run.recap.items() if r['ok'] > 10} == {'ks-cp1', 'ks-w1', 'ks-w2'}, run.recap
    for task in ('kubeseed.cluster.control_plane : Initialise the first control plane', 'kubeseed.cluster.workers : The kubeadm state of each worker',
                 'kubeseed.cluster.cni : CNI configuration, route list'):
        assert 'TASK [%s' % task in run.output, task


def test_all_nodes_and_coredns_ready():
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    ready = {n['metadata']['name']: [c['status'] for c in n['status']['conditions'] if c['type'] == 'Ready'][0] for n in nodes}
    assert ready == {'ks-cp1': 'True', 'ks-w1': 'True', 'ks-w2': 'True'}
    coredns = json.loads(kubectl('-n', 'kube-system', 'get', 'deployment', 'coredns', '-o', 'json').stdout)
    assert coredns['status'].get('readyReplicas', 0) == coredns['spec']['replicas'] >= 1
    assert (pathlib.Path(kubeconfig()).stat().st_mode & 0o777) == 0o600


PODS = '''
apiVersion: v1
kind: Namespace
metadata: {name: e2e}
---
apiVersion: v1
kind: Service
metadata: {name: echo-w2, namespace: e2e}
spec:
  selector: {app: echo-w2}
  ports: [{port: 80, targetPort: 8080}]
''' + ''.join('''---
apiVersion: v1
kind: Pod
metadata: {name: echo-%(n)s, namespace: e2e, labels: {app: echo-%(n)s}}
spec:
  nodeSelector: {kubernetes.io/hostname: ks-%(n)s}
  containers:
  - name: demo
    image: kubeseed.local/demo:0.3.0
    imagePullPolicy: Never
    args: [serve, -name, echo-%(n)s]
    readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 2}
''' % {'n': n} for n in ('w1', 'w2'))


def test_pods_on_different_workers_reach_each_other_by_pod_ip_and_service_name():
    kubectl('apply', '-f', '-', stdin=PODS)
    kubectl('-n', 'e2e', 'wait', '--for=condition=Ready', 'pod/echo-w1', 'pod/echo-w2', '--timeout=180s')
    pods = {p['metadata']['name']: p for p in json.loads(kubectl('-n', 'e2e', 'get', 'pods', '-o', 'json').stdout)['items']}
    assert pods['echo-w1']['spec']['nodeName'] == 'ks-w1' and pods['echo-w2']['spec']['nodeName'] == 'ks-w2'
    for source, target in (('echo-w1', 'echo-w2'), ('echo-w2', 'echo-w1')):
        url = 'http://%s:8080/' % pods[target]['status']['podIP']
        answer = json.loads(kubectl('-n', 'e2e', 'exec', source, '--', '/demo', 'get', url).stdout)
        assert answer['service'] == target and answer['pod'] == target
    deadline = time.monotonic() + 60
    while True:  # the Service's endpoints and DNS record appear within seconds
        proc = kubectl('-n', 'e2e', 'exec', 'echo-w1', '--', '/demo', 'get', 'http://echo-w2.e2e.svc.cluster.local/', check=False)
        if proc.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)['pod'] == 'echo-w2'
    kubectl('delete', 'namespace', 'e2e', '--wait=false')


def test_demo_services_answer_through_node_port_and_rerun_changes_nothing():
    demo = ['playbooks/apps.yml', '-i', str(ROOT / 'inventories' / 'lab'), '-e', '@tools/demo/services.yml']
    first = playbook(*demo)
    print('demo services applied and rolled out: %.0fs' % first.seconds)
    first.assert_ok()
    assert first.recap['localhost']['changed'] > 0
    assert 'demo-only-not-a-real-secret' not in first.said
    # the release summary: both pods of each service available after the wait, the node port on a lab node's address
    assert re.search(r'demo/frontend +kubeseed\.local/demo:0\.3\.0 +2/2 +frontend\.demo\.svc:80, http://10\.117\.0\.\d+:30080 +Deployment created',
                     first.said), first.output[-3000:]
    second = playbook(*demo)
    second.assert_ok()
    assert second.recap['localhost']['changed'] == 0
    assert 'set demo: 2 service(s), 0 changed' in second.said
    check = subprocess.run([str(ROOT / '.venv' / 'bin' / 'python'), str(ROOT / 'tools' / 'demo' / 'check.py')], cwd=ROOT,
                           capture_output=True, text=True, timeout=120, check=False)
    print(check.stdout)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count('-> frontend pod') == 2  # answered on both workers
    # spread by default: each service's two replicas on the two workers
    pods = json.loads(kubectl('-n', 'demo', 'get', 'pods', '-o', 'json').stdout)['items']
    placed = sorted((p['metadata']['labels']['app.kubernetes.io/name'], p['spec'].get('nodeName')) for p in pods
                    if p['status'].get('phase') == 'Running')
    assert placed == [('backend', 'ks-w1'), ('backend', 'ks-w2'), ('frontend', 'ks-w1'), ('frontend', 'ks-w2')], placed


def _node_addresses() -> dict:
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    return {n['metadata']['name']: next(a['address'] for a in n['status']['addresses'] if a['type'] == 'InternalIP') for n in nodes}


def test_kubelets_serve_certificates_of_the_cluster_ca_and_a_request_not_made_by_a_node_stays_pending(tmp_path):
    """kubeseed_kubelet_serving_certificates (default on): every kubelet's port 10250 verifies against the cluster CA for
    its node's address; the approver leaves a kubelet-serving request made by the admin (not by the node) pending."""
    needs_cluster()
    config = yaml.safe_load(pathlib.Path(kubeconfig()).read_text(encoding='utf-8'))
    ca = tmp_path / 'ca.crt'
    ca.write_bytes(base64.b64decode(config['clusters'][0]['cluster']['certificate-authority-data']))
    context = ssl.create_default_context(cafile=str(ca))
    addresses = _node_addresses()
    assert sorted(addresses) == ['ks-cp1', 'ks-w1', 'ks-w2']
    for name, address in sorted(addresses.items()):
        with socket.create_connection((address, 10250), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=address) as tls:  # verifies the chain and the IP address
                subject = dict(item[0] for item in tls.getpeercert()['subject'])
        assert subject['commonName'] == 'system:node:%s' % name, subject
    # a request for ks-w1's name and address, but made with the admin's credentials: the approver must not approve it
    key = ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, 'system:node:ks-w1'), x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'system:nodes'),
    ])).add_extension(x509.SubjectAlternativeName([x509.DNSName('ks-w1'), x509.IPAddress(ipaddress.ip_address(addresses['ks-w1']))]),
                      critical=False).sign(key, hashes.SHA256())
    name = 'e2e-not-from-a-node'
    kubectl('delete', 'csr', name, '--ignore-not-found')
    kubectl('create', '-f', '-', stdin=json.dumps({
        'apiVersion': 'certificates.k8s.io/v1', 'kind': 'CertificateSigningRequest', 'metadata': {'name': name},
        'spec': {'signerName': 'kubernetes.io/kubelet-serving', 'usages': ['digital signature', 'server auth'],
                 'request': base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()}}))
    try:
        deadline = time.monotonic() + 60
        logs = ''
        while time.monotonic() < deadline and 'left pending %s' % name not in logs:
            time.sleep(3)
            logs = kubectl('-n', 'kube-system', 'logs', 'deployment/kubelet-serving-approver', '--since=5m').stdout
        assert 'left pending %s: requested by "kubernetes-admin"' % name in logs, logs[-2000:]
        conditions = json.loads(kubectl('get', 'csr', name, '-o', 'json').stdout)['status'].get('conditions') or []
        assert conditions == [], conditions
    finally:
        kubectl('delete', 'csr', name, '--ignore-not-found')


def test_metrics_server_answers_top_and_a_service_scales_up_under_load_and_back_down(tmp_path):
    """kubeseed_addons (default: metrics_server): kubectl top works, and a service with autoscaling goes from 1 to more
    replicas under a bounded in-cluster load (the demo image's load command) and back to 1 after it (scaleDownSeconds 15)."""
    needs_cluster()
    top = kubectl('top', 'nodes', '--no-headers')
    assert sorted(line.split()[0] for line in top.stdout.splitlines()) == ['ks-cp1', 'ks-w1', 'ks-w2'], top.stdout
    assert 'coredns' in kubectl('top', 'pods', '-n', 'kube-system', '--no-headers').stdout
    services = tmp_path / 'autoscale.yml'
    services.write_text(yaml.safe_dump({
        'kubeseed_microservices_set': 'autoscale', 'kubeseed_microservices_namespace': 'autoscale',
        'kubeseed_microservices': [{
            'name': 'busy', 'image': 'kubeseed.local/demo:0.3.0', 'args': ['serve', '-name', 'busy', '-drain-delay', '0s'],
            'ports': [{'port': 80, 'targetPort': 8080}], 'readiness': {'httpGet': {'path': '/healthz', 'port': 'http'}, 'periodSeconds': 2},
            'resources': {'requests': {'cpu': '20m', 'memory': '16Mi'}, 'limits': {'memory': '64Mi'}},
            'autoscaling': {'min': 1, 'max': 3, 'cpu': 50, 'scaleDownSeconds': 15}}]}), encoding='utf-8')
    playbook('playbooks/apps.yml', '-i', str(ROOT / 'inventories' / 'lab'), '-e', '@%s' % services).assert_ok()
    timeline = []

    def replicas_until(wanted, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hpa = json.loads(kubectl('-n', 'autoscale', 'get', 'hpa', 'busy', '-o', 'json').stdout)
            status = hpa.get('status') or {}
            cpu = next((m['resource']['current'].get('averageUtilization') for m in status.get('currentMetrics') or []
                        if m.get('type') == 'Resource'), None)
            timeline.append('%4.0fs replicas %s (desired %s), cpu %s%%' % (time.monotonic() - start, status.get('currentReplicas'),
                                                                           status.get('desiredReplicas'), cpu))
            if wanted(status.get('currentReplicas') or 0):
                return True
            time.sleep(5)
        return False

    start = time.monotonic()
    try:
        kubectl('-n', 'autoscale', 'run', 'load', '--image=kubeseed.local/demo:0.3.0', '--image-pull-policy=IfNotPresent', '--restart=Never',
                '--', 'load', '-c', '2', '-d', '300s', 'http://busy/')
        up = replicas_until(lambda n: n >= 2, 240)
        kubectl('-n', 'autoscale', 'delete', 'pod', 'load', '--grace-period=0', '--force', '--wait=false', check=False)
        down = up and replicas_until(lambda n: n == 1, 300)
        print('autoscaling under load, then without:\n  ' + '\n  '.join(timeline))
        assert up, 'never scaled up under load:\n' + '\n'.join(timeline)
        assert down, 'never scaled back down to 1 after the load:\n' + '\n'.join(timeline)
    finally:
        kubectl('delete', 'namespace', 'autoscale', '--wait=false', check=False)


def test_local_path_storage_keeps_a_service_volume_across_a_roll_and_deleting_the_claim_removes_it(tmp_path):
    """kubeseed_addons (default: local_path_storage): local-path is the default StorageClass. A service with a persistent
    volume (its claim names no StorageClass) gets a directory on its pod's node (made by the bundle's volume helper); the
    demo writes its pod name there, a release with a changed setting rolls it (a new pod, same node), which reads what the
    first pod wrote; removing the set keeps the claim (warned); deleting it removes the directory from the node."""
    needs_cluster()
    started = time.monotonic()
    storage_class = json.loads(kubectl('get', 'storageclass', 'local-path', '-o', 'json').stdout)
    assert storage_class['metadata']['annotations']['storageclass.kubernetes.io/is-default-class'] == 'true'
    assert storage_class['volumeBindingMode'] == 'WaitForFirstConsumer' and storage_class['reclaimPolicy'] == 'Delete'
    inventory = str(ROOT / 'inventories' / 'lab')

    def release(round_: str, state: str = 'present') -> object:
        (tmp_path / 'keeper.yml').write_text(yaml.safe_dump({
            'kubeseed_microservices_set': 'keeper', 'kubeseed_microservices_namespace': 'e2e-storage',
            'kubeseed_microservices_state': state,
            'kubeseed_microservices': [{
                'name': 'keeper', 'image': 'kubeseed.local/demo:0.3.0', 'env': {'ROUND': round_},
                'args': ['serve', '-name', 'keeper', '-state-file', '/data/starts', '-drain-delay', '0s'],
                'ports': [{'port': 80, 'targetPort': 8080}], 'readiness': {'httpGet': {'path': '/healthz', 'port': 'http'}, 'periodSeconds': 1},
                'strategy': {'type': 'Recreate'}, 'volumes': {'data': {'mountPath': '/data', 'persistent': {'size': '64Mi'}}}}]}),
            encoding='utf-8')
        run = playbook('playbooks/apps.yml', '-i', inventory, '-e', '@%s' % (tmp_path / 'keeper.yml'))
        run.assert_ok()
        return run

    def answer() -> dict:
        pods = json.loads(kubectl('-n', 'e2e-storage', 'get', 'pods', '-l', 'app.kubernetes.io/name=keeper', '-o', 'json').stdout)['items']
        [pod] = [p for p in pods if not p['metadata'].get('deletionTimestamp')]
        raw = kubectl('get', '--raw', '/api/v1/namespaces/e2e-storage/pods/%s:8080/proxy/' % pod['metadata']['name']).stdout
        return dict(json.loads(raw), node=pod['spec']['nodeName'])

    try:
        release('1')
        first = answer()
        assert first['starts'] == [first['pod']], first
        claim = json.loads(kubectl('-n', 'e2e-storage', 'get', 'pvc', 'keeper-data', '-o', 'json').stdout)
        assert claim['spec']['storageClassName'] == 'local-path' and claim['status']['phase'] == 'Bound', claim
        volume = json.loads(kubectl('get', 'pv', claim['spec']['volumeName'], '-o', 'json').stdout)
        directory = volume['spec']['hostPath']['path']
        assert directory.startswith('/opt/local-path-provisioner/pvc-'), directory
        assert _on(first['node'], 'cat', directory + '/starts').split() == [first['pod']]
        assert _on(first['node'], 'stat', '-c', '%a', directory).strip() == '777'

        release('2')
        second = answer()
        assert second['pod'] != first['pod'] and second['node'] == first['node'], (first, second)
        assert second['starts'] == [first['pod'], second['pod']], second
        gone = release('2', 'absent')
        assert 'PersistentVolumeClaim e2e-storage/keeper-data: kept with its data' in gone.said, gone.output[-2000:]
        assert kubectl('-n', 'e2e-storage', 'get', 'pvc', 'keeper-data', check=False).returncode == 0
    finally:
        kubectl('delete', 'namespace', 'e2e-storage', '--timeout=120s', check=False)
    deadline = time.monotonic() + 120
    while _on(first['node'], 'ls', '/opt/local-path-provisioner').split() and time.monotonic() < deadline:
        time.sleep(3)
    assert _on(first['node'], 'ls', '/opt/local-path-provisioner').split() == [], 'the volume directory was not removed'
    assert kubectl('get', 'pv', claim['spec']['volumeName'], check=False).returncode != 0
    print('local-path storage: bound, written, rolled, read back, kept, removed in %.0fs' % (time.monotonic() - started))


def test_the_runtime_is_the_bundles_containerd_2_and_a_pod_runs_a_program_from_an_image_volume():
    """Every node runs the bundle's containerd 2.x and runc (issue 19). A pod mounts an image read-only as a volume (the
    demo image, already on the node) and runs the demo program from that volume in a container of another image: the pod
    answers through the API server's proxy, which it can only do when the runtime mounted the image's files."""
    needs_cluster()
    started = time.monotonic()
    manifest = json.loads((pathlib.Path(bundle_path()) / 'manifest.json').read_text(encoding='utf-8'))
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    runtimes = {n['metadata']['name']: n['status']['nodeInfo']['containerRuntimeVersion'] for n in nodes}
    assert set(runtimes.values()) == {'containerd://%s' % manifest['components']['containerd']}, runtimes
    worker = sorted(runtimes)[-1]
    assert _on(worker, '/usr/local/sbin/runc', '--version').splitlines()[0] == 'runc version %s' % manifest['components']['runc']
    pod = {
        'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': 'image-volume', 'namespace': 'e2e-image-volume'},
        'spec': {
            'nodeName': worker, 'terminationGracePeriodSeconds': 1,
            'containers': [{
                'name': 'main', 'image': 'kubeseed.local/local-path-helper:0.1.0', 'imagePullPolicy': 'Never',
                'command': ['/from-image/demo', 'serve', '-name', 'from-an-image-volume', '-drain-delay', '0s'],
                'ports': [{'containerPort': 8080}],
                'readinessProbe': {'httpGet': {'path': '/healthz', 'port': 8080}, 'periodSeconds': 1},
                'volumeMounts': [{'name': 'demo', 'mountPath': '/from-image'}]}],
            'volumes': [{'name': 'demo', 'image': {'reference': 'kubeseed.local/demo:0.3.0', 'pullPolicy': 'Never'}}]}}
    kubectl('create', 'namespace', 'e2e-image-volume')
    try:
        kubectl('apply', '-f', '-', stdin=json.dumps(pod))
        waited = kubectl('-n', 'e2e-image-volume', 'wait', '--for=condition=Ready', 'pod/image-volume', '--timeout=50s', check=False)
        if waited.returncode != 0:
            described = kubectl('-n', 'e2e-image-volume', 'describe', 'pod', 'image-volume', check=False).stdout
            pytest.fail('the pod with an image volume did not become Ready: %s' % described[-3000:])
        raw = kubectl('get', '--raw', '/api/v1/namespaces/e2e-image-volume/pods/image-volume:8080/proxy/').stdout
        assert json.loads(raw)['service'] == 'from-an-image-volume', raw
    finally:
        kubectl('delete', 'namespace', 'e2e-image-volume', '--timeout=60s', check=False)
    print('containerd %s on every node; a program run from an image volume answered in %.0fs'
          % (manifest['components']['containerd'], time.monotonic() - started))


def test_a_private_image_is_pulled_from_the_lab_registry_over_tls_with_the_sets_credentials(tmp_path):
    """The lab's registry (the distribution registry built from its Go module, TLS with a lab CA, basic auth) holds the
    demo image as a team's private image. site.yml with kubeseed_containerd_registry_ca makes containerd trust that CA for
    that registry only (a second run changes nothing); a pull without the right password is refused by the registry
    (401); a service of that image with kubeseed_microservices_registry_credentials starts on both workers, each kubelet
    pulling through TLS with the set's credentials (pull policy Always), pinned by kubeseed_microservices_image_digests to
    the digest the registry serves (asked from the controller with the same CA and credentials), and no form of the
    password is in -vvv output."""
    needs_cluster()
    started = time.monotonic()
    up = subprocess.run([*LAB, 'registry', 'up'], cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    status = json.loads(up.stdout[up.stdout.index('{'):])
    registry, image = status['registry'], status['registry'] + '/team/demo:0.3.0'
    assert image in status['images'], status
    credentials = json.loads(pathlib.Path(status['credentials_file']).read_text(encoding='utf-8'))
    password = credentials['password']
    inventory = str(INVENTORY)
    try:
        extra = tmp_path / 'registry.yml'
        extra.write_text(yaml.safe_dump({'kubeseed_containerd_registry_ca': {
            registry: pathlib.Path(status['ca_file']).read_text(encoding='utf-8')}}), encoding='utf-8')
        first = playbook('site.yml', '-i', inventory, '-e', '@%s' % extra)
        first.assert_ok()
        assert set(changed_tasks(first.output)) == {"kubeseed.cluster.containerd : Containerd's files (configuration, registry "
                                                    "mirrors, crictl); containerd enabled, running, restarted when its "
                                                    "configuration is newer than the process"}, changed_tasks(first.output)
        again = playbook('site.yml', '-i', inventory, '-e', '@%s' % extra)
        again.assert_ok()
        assert all(r['changed'] == 0 for r in again.recap.values()), again.recap
        hosts = [h for h in first.recap if h != 'localhost']
        assert _on(hosts[-1], 'cat', '/etc/containerd/certs.d/%s/hosts.toml' % registry).count('ca = ') == 1
        refused = adhoc(hosts[-1], 'ansible.builtin.command', 'crictl pull --creds team:wrong %s' % image)
        assert '401 Unauthorized' in refused.stdout, refused.stdout

        services = tmp_path / 'private.yml'
        services.write_text(yaml.safe_dump({
            'kubeseed_microservices_set': 'private', 'kubeseed_microservices_namespace': 'e2e-registry',
            'kubeseed_microservices_registry_credentials': {registry: credentials},
            'kubeseed_microservices_image_digests': True,
            'kubeseed_microservices_registry_ca': {registry: pathlib.Path(status['ca_file']).read_text(encoding='utf-8')},
            'kubeseed_microservices': [{
                'name': 'private', 'image': image, 'imagePullPolicy': 'Always', 'replicas': 2,
                'spread': {'whenUnsatisfiable': 'DoNotSchedule'},
                'args': ['serve', '-name', 'private', '-drain-delay', '0s'], 'ports': [{'port': 80, 'targetPort': 8080}],
                'readiness': {'httpGet': {'path': '/healthz', 'port': 'http'}, 'periodSeconds': 1}}]}), encoding='utf-8')
        applied = playbook('playbooks/apps.yml', '-i', inventory, '-e', '@%s' % services, '-vvv')
        applied.assert_ok()
        pods = json.loads(kubectl('-n', 'e2e-registry', 'get', 'pods', '-l', 'app.kubernetes.io/name=private', '-o', 'json').stdout)['items']
        assert len({p['spec']['nodeName'] for p in pods}) == 2, [p['spec']['nodeName'] for p in pods]
        for pod in pods:
            [container] = pod['status']['containerStatuses']
            assert container['ready'], container
            # pinned: the tag, then the digest the registry serves for it
            assert pod['spec']['containers'][0]['image'] == image + '@' + status['digests'][image], pod['spec']['containers']
            # the registry's copy of the demo image (a label of its own: another image ID than the bundle's preloaded
            # one, which a kubelet of 1.35+ would otherwise treat as private too); with pull policy Always a pod starts
            # only after its kubelet resolved the image at the registry, through TLS and with the set's credentials
            assert container['imageID'].endswith('@' + status['digests'][image]), container
        userpass = base64.b64encode(('%s:%s' % (credentials['username'], password)).encode()).decode()
        for form in (password, userpass):
            assert form not in applied.output, 'a form of the registry password is in the -vvv output'
        # the username is a name: the release summary shows the image path with it (not masked as a secret)
        assert image in applied.output and '/********/demo' not in applied.output
    finally:
        kubectl('delete', 'namespace', 'e2e-registry', '--timeout=60s', check=False)
        subprocess.run([*LAB, 'registry', 'down'], cwd=ROOT, check=False)
    print('private image from the lab registry (%s) on 2 workers over TLS with credentials in %.0fs'
          % (registry, time.monotonic() - started))


def test_a_release_that_cannot_start_is_rolled_back_while_the_demo_answers(tmp_path):
    """kubeseed_microservices_on_failure: rollback. A frontend image that is not on the nodes (pull policy Never: nothing is
    pulled) never becomes ready; after the wait the run returns the frontend to the revision that served, waits for it,
    and fails naming it; the demo answers through the node port the whole time. The next run with the good release
    converges, and the one after it changes nothing."""
    demo = yaml.safe_load((ROOT / 'tools' / 'demo' / 'services.yml').read_text(encoding='utf-8'))
    bad = dict(demo, kubeseed_microservices_on_failure='rollback', kubeseed_microservices_wait_timeout=40)
    bad['kubeseed_microservices'] = [dict(svc, image='kubeseed.local/demo:not-on-any-node', imagePullPolicy='Never') if svc['name'] == 'frontend'
                                     else svc for svc in demo['kubeseed_microservices']]
    (tmp_path / 'bad.yml').write_text(yaml.safe_dump(bad), encoding='utf-8')
    node = yaml.safe_load((ROOT / 'inventories' / 'lab' / 'hosts.yml').read_text(encoding='utf-8'))
    address = node['all']['children']['control_plane']['hosts']['ks-cp1']['ansible_host']
    stop, failed, requests = threading.Event(), [], [0]

    def probe() -> None:
        while not stop.is_set():
            requests[0] += 1
            try:
                with urllib.request.urlopen('http://%s:30080/' % address, timeout=2) as response:
                    if response.status != 200 or 'backend' not in response.read().decode('utf-8', 'replace'):
                        failed.append('HTTP %d' % response.status)
            except OSError as exc:
                failed.append(str(exc)[:100])
            stop.wait(0.2)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        run = playbook('playbooks/apps.yml', '-i', str(ROOT / 'inventories' / 'lab'), '-e', '@%s' % (tmp_path / 'bad.yml'))
    finally:
        stop.set()
        prober.join()
    print('bad release and its rollback: %.0fs, %d probe requests, %d failed' % (run.seconds, requests[0], len(failed)))
    assert run.rc != 0, run.output[-3000:]
    assert '1 of 2 Deployment(s) did not roll out within 40s' in run.said, run.output[-3000:]
    assert 'ErrImageNeverPull' in run.said, run.output[-3000:]
    assert re.search(r'Deployment demo/frontend: rolled back to revision \d+ \(image kubeseed\.local/demo:0\.3\.0\), available again', run.said), \
        run.output[-3000:]
    live = json.loads(kubectl('-n', 'demo', 'get', 'deployment', 'frontend', '-o', 'json').stdout)
    assert live['spec']['template']['spec']['containers'][0]['image'] == 'kubeseed.local/demo:0.3.0'
    assert not failed, failed[:5]

    good = ['playbooks/apps.yml', '-i', str(ROOT / 'inventories' / 'lab'), '-e', '@tools/demo/services.yml']
    fixed = playbook(*good)
    fixed.assert_ok()
    again = playbook(*good)
    again.assert_ok()
    assert again.recap['localhost']['changed'] == 0


def test_a_migration_job_runs_before_its_service_and_a_failing_one_holds_the_release_back(tmp_path):
    """A job entry with runBefore: [backend] runs to completion on a worker before the backend's objects are applied
    (the backend's new pods with a native sidecar running beside it); the same release again runs nothing. A migration
    that fails (backoffLimit 0) fails the run with its pod's log lines, and the backend's new setting is not applied.
    The demo release without the job prunes it and changes nothing next."""
    demo = yaml.safe_load((ROOT / 'tools' / 'demo' / 'services.yml').read_text(encoding='utf-8'))

    def release(name: str, job_args: list, message: str) -> list:
        # the backend also gets a native sidecar (a second demo server beside it, on port 9090)
        backend = dict(demo['kubeseed_microservices'][0], config={'DEMO_MESSAGE': message},
                       sidecars=[{'name': 'side', 'image': 'kubeseed.local/demo:0.3.0', 'imagePullPolicy': 'Never',
                                  'args': ['serve', '-listen', ':9090', '-name', 'sidecar']}])
        job = {'name': 'migrate', 'image': 'kubeseed.local/demo:0.3.0', 'imagePullPolicy': 'Never', 'args': job_args,
               'resources': {'requests': {'cpu': '10m', 'memory': '16Mi'}, 'limits': {'memory': '64Mi'}}, 'job': {'runBefore': ['backend']}}
        (tmp_path / name).write_text(yaml.safe_dump(dict(demo, kubeseed_microservices=[backend, demo['kubeseed_microservices'][1], job])),
                                     encoding='utf-8')
        return ['playbooks/apps.yml', '-i', str(ROOT / 'inventories' / 'lab'), '-e', '@%s' % (tmp_path / name)]

    def backend_message() -> str:
        return json.loads(kubectl('-n', 'demo', 'get', 'configmap', 'backend-config', '-o', 'json').stdout)['data']['DEMO_MESSAGE']

    good = release('good.yml', ['version'], 'hello after the migration')
    first = playbook(*good)
    print('release with a migration job: %.0fs' % first.seconds)
    first.assert_ok()
    assert re.search(r'demo/migrate +kubeseed\.local/demo:0\.3\.0 +complete +job migrate-[0-9a-f]{10} +Job created', first.said), first.output[-3000:]
    jobs = json.loads(kubectl('-n', 'demo', 'get', 'jobs', '-o', 'json').stdout)['items']
    assert len(jobs) == 1 and jobs[0]['status'].get('succeeded') == 1
    started = jobs[0]['status']['completionTime']
    assert 'demo 0.3.0 (kubeseed)' in kubectl('-n', 'demo', 'logs', 'job/' + jobs[0]['metadata']['name']).stdout
    assert backend_message() == 'hello after the migration'
    pods = [p for p in json.loads(kubectl('-n', 'demo', 'get', 'pods', '-l', 'app.kubernetes.io/name=backend', '-o', 'json').stdout)['items']
            if not p['metadata'].get('deletionTimestamp')]
    assert len(pods) == 2 and all([(c['name'], c.get('started')) for c in p['status'].get('initContainerStatuses') or []] == [('side', True)]
                                  and p['status']['containerStatuses'][0]['ready'] for p in pods), pods
    again = playbook(*good)
    again.assert_ok()
    assert again.recap['localhost']['changed'] == 0
    assert json.loads(kubectl('-n', 'demo', 'get', 'jobs', '-o', 'json').stdout)['items'][0]['status']['completionTime'] == started

    bad = playbook(*release('bad.yml', ['get', '-timeout', '2s', 'http://127.0.0.1:9/'], 'must not be applied'))
    print('release with a failing migration: %.0fs' % bad.seconds)
    assert bad.rc != 0, bad.output[-3000:]
    assert 'Job(s) that run before services did not complete, so these were not applied (they run as before): Deployment demo/backend' \
        in bad.said, bad.output[-3000:]
    assert re.search(r'\| .*127\.0\.0\.1:9.*connection refused', bad.said), bad.output[-3000:]
    assert backend_message() == 'hello after the migration'

    back = playbook('playbooks/apps.yml', '-i', str(ROOT / 'inventories' / 'lab'), '-e', '@tools/demo/services.yml')
    back.assert_ok()
    assert json.loads(kubectl('-n', 'demo', 'get', 'jobs', '-o', 'json').stdout)['items'] == []
    assert playbook('playbooks/apps.yml', '-i', str(ROOT / 'inventories' / 'lab'), '-e', '@tools/demo/services.yml').recap['localhost']['changed'] == 0


def _on(host: str, *argv: str) -> str:
    """Run a command on a lab host (as root), return its stdout."""
    proc = adhoc(host, 'ansible.builtin.command', ' '.join(argv))
    assert ' | CHANGED | rc=0 ' in proc.stdout or ' | SUCCESS ' in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout.split('(stdout) ', 1)[-1] if '(stdout) ' in proc.stdout else ''


def test_runtime_drift_is_predicted_by_check_mode_then_healed(lab_cluster):
    demo_image = 'kubeseed.local/demo:0.3.0'
    # Drift by hand: a sysctl, a stopped kubelet and a removed image on one worker, a stopped containerd and an edited
    # kubelet drop-in on the other (its kubelet keeps running with the old unit until restarted).
    _on('ks-w1', 'sysctl', '-w', 'net.ipv4.ip_forward=0')
    _on('ks-w1', 'systemctl', 'stop', 'kubelet')
    _on('ks-w1', 'ctr', '-n', 'k8s.io', 'images', 'rm', demo_image)
    _on('ks-w2', 'systemctl', 'stop', 'containerd')
    _on('ks-w2', "sh -c 'echo \"# edited by hand\" >> /etc/systemd/system/kubelet.service.d/10-kubeadm.conf'")
    assert '# edited by hand' in _on('ks-w2', 'cat', '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf')
    w2_kubelet_started = _on('ks-w2', 'systemctl', 'show', 'kubelet', '--property=ExecMainStartTimestampMonotonic').strip()
    # a binary rewritten in place, its size and mtime kept: only its ctime tells (bundle_files' checksum cache must see it)
    kubectl_sum = _on('ks-w1', 'sha256sum', '/usr/local/bin/kubectl').split()[0]
    _on('ks-w1', "python3 -c '%s'" % TAMPER.replace('PATH', '/usr/local/bin/kubectl'))
    assert _on('ks-w1', 'sha256sum', '/usr/local/bin/kubectl').split()[0] != kubectl_sum

    check = playbook('site.yml', '-i', str(lab_cluster), '--check', '--diff')
    check.assert_ok()
    changed = changed_tasks(check.output)
    print('check mode predicted: %s' % changed)
    assert 'ks-w1' in changed['kubeseed.cluster.node : Swap off, kernel features and sysctls, now and across reboots']
    assert 'net.ipv4.ip_forward = 0' in check.output and 'net.ipv4.ip_forward = 1' in check.output
    # ks-w1's stopped kubelet is started, ks-w2's restarted (its drop-in is rewritten): one task, each host its action
    assert sorted(changed[KUBELET_TASK]) == ['ks-w1', 'ks-w2']
    assert changed[BINARIES_TASK] == ['ks-w1']
    assert changed[CONTAINERD_TASK] == ['ks-w2']
    assert '# edited by hand' in check.output  # ks-w2's drop-in, rewritten by the kubelet's task (its diff)
    assert check.output.count('+active: active (started)') == 2  # ks-w1's kubelet, ks-w2's containerd
    assert check.output.count('+active: active (restarted)') == 1  # ks-w2's kubelet
    # ks-w1: only the removed image is missing; ks-w2: containerd does not answer, a run starts it before importing
    assert sorted(changed["kubeseed.cluster.kube_packages : Import the bundle's images that containerd lacks (Kubernetes' own, the "
                          "demo service's and the add-ons')"]) == ['ks-w1', 'ks-w2']
    assert {h for h, r in check.recap.items() if r['changed']} == {'ks-w1', 'ks-w2'}
    # ... and changed nothing
    assert _on('ks-w1', 'sysctl', '-n', 'net.ipv4.ip_forward').strip() == '0'
    assert 'inactive' in adhoc('ks-w1', 'ansible.builtin.command', 'systemctl is-active kubelet').stdout

    # Only the readiness phase, limited to the worker whose kubelet is stopped: once the API server sees the node
    # NotReady, the run fails and names it with its conditions.
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        node = json.loads(kubectl('get', 'node', 'ks-w1', '-o', 'json').stdout)
        if [c['status'] for c in node['status']['conditions'] if c['type'] == 'Ready'] != ['True']:
            break
        time.sleep(3)
    not_ready = playbook('site.yml', '-i', str(lab_cluster), '--tags', 'ready', '-l', 'ks-w1', '-e', 'kubeseed_control_plane_ready_timeout=6')
    assert not_ready.rc != 0 and not_ready.recap['ks-w1']['failed'] == 1, not_ready.output[-3000:]
    assert 'not ready after 6s' in not_ready.said and 'ks-w1: Ready=Unknown NodeStatusUnknown' in not_ready.said, not_ready.output[-3000:]
    assert not_ready.recap['ks-w1']['changed'] == 0

    # A run limited to the worker heals it and waits until that node is Ready again.
    limited = playbook('site.yml', '-i', str(lab_cluster), '-l', 'ks-w1')
    limited.assert_ok()
    assert 'TASK [kubeseed.cluster.control_plane : Wait until the nodes of this run are Ready and CoreDNS is available]' in limited.output
    assert _on('ks-w1', 'sysctl', '-n', 'net.ipv4.ip_forward').strip() == '1'
    assert _on('ks-w1', 'systemctl', 'is-active', 'kubelet').strip() == 'active'
    assert demo_image in _on('ks-w1', 'ctr', '-n', 'k8s.io', 'images', 'list', '--quiet')
    assert changed_tasks(limited.output)[BINARIES_TASK] == ['ks-w1']
    assert _on('ks-w1', 'sha256sum', '/usr/local/bin/kubectl').split()[0] == kubectl_sum

    healed = playbook('site.yml', '-i', str(lab_cluster))
    healed.assert_ok()
    assert _on('ks-w2', 'systemctl', 'is-active', 'containerd').strip() == 'active'
    assert changed_tasks(healed.output)[KUBELET_TASK] == ['ks-w2']
    assert '# edited by hand' not in _on('ks-w2', 'cat', '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf')
    assert _on('ks-w2', 'systemctl', 'show', 'kubelet', '--property=ExecMainStartTimestampMonotonic').strip() != w2_kubelet_started
    assert _on('ks-w2', 'systemctl', 'is-active', 'kubelet').strip() == 'active'
    again = playbook('site.yml', '-i', str(lab_cluster))
    again.assert_ok()
    assert {h: r['changed'] for h, r in again.recap.items() if r['changed']} == {}
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    assert all([c['status'] for c in n['status']['conditions'] if c['type'] == 'Ready'] == ['True'] for n in nodes)


BINARIES_TASK = ('kubeseed.cluster.kube_packages : Install binaries (etcdctl and etcdutl on control planes), CNI plugins and images from the '
                 'bundle (checked against the manifest)')
# flips the last byte of PATH in place and sets its mtime back (python3 -c, no single quote inside)
TAMPER = ('import os; f = "PATH"; st = os.stat(f); fd = os.open(f, os.O_RDWR); os.lseek(fd, -1, 2); b = os.read(fd, 1)[0]; '
          'os.lseek(fd, -1, 2); os.write(fd, bytes([b ^ 255])); os.close(fd); os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))')
KUBELET_TASK = ('kubeseed.cluster.kube_packages : Kubelet unit (offline), kubelet enabled, running once the node is in a cluster, restarted when '
                'this run replaced its binary or unit')
CONTAINERD_TASK = ("kubeseed.cluster.containerd : Containerd's files (configuration, registry mirrors, crictl); containerd enabled, running, "
                   'restarted when its configuration is newer than the process')
NODE_METADATA_TASK = 'kubeseed.cluster.control_plane : Labels and taints of the nodes of this run (kubeseed_node_labels, kubeseed_node_taints)'
E2E_LABEL = ('kubeseed.io/e2e', 'yes')
E2E_TAINT = {'key': 'kubeseed.io/e2e', 'value': 'x', 'effect': 'PreferNoSchedule'}  # PreferNoSchedule: running pods stay


def test_pod_interfaces_take_the_mtu_of_the_node_interface():
    """kubeseed_cni_mtu 0 (the default): the CNI configuration carries the MTU of the interface with the node's address."""
    for host in ('ks-cp1', 'ks-w1', 'ks-w2'):
        bridge = json.loads(_on(host, 'cat', '/etc/cni/net.d/10-kubeseed-bridge.conflist'))['plugins'][0]
        assert bridge['mtu'] == int(_on(host, 'cat', '/sys/class/net/host0/mtu')), host


def test_ca_hash_matches_openssl_on_the_lab_ca():
    """The join discovery hash (our DER walk in module_utils/_kubeadm.py) against openssl on the cluster's real CA."""
    pem = _on('ks-cp1', 'cat', '/etc/kubernetes/pki/ca.crt')
    proc = adhoc('ks-cp1', 'ansible.builtin.shell',
                 'openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt | openssl pkey -pubin -outform der | sha256sum')
    assert ' | CHANGED | rc=0 ' in proc.stdout, proc.stdout + proc.stderr
    digest = proc.stdout.split('(stdout) ', 1)[-1].split()[0]
    assert len(digest) == 64 and ca_cert_hash(pem) == 'sha256:' + digest


def _labels_and_taints() -> dict:
    """{node: (labels, taints, kubeseed's ownership annotations)} from the API server."""
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    return {n['metadata']['name']: (n['metadata'].get('labels') or {}, n['spec'].get('taints') or [],
                                    {k: v for k, v in (n['metadata'].get('annotations') or {}).items() if k.startswith('kubeseed.io/')})
            for n in nodes}


def test_an_unreachable_bundle_stops_the_run_naming_the_url_and_the_hosts_and_changes_nothing(lab_cluster):
    """Drill (issue #13, 7): kubeseed_offline_bundle_url points at a bundle the server does not have (404) or at a port
    nothing listens on: site.yml on the converged cluster fails at every host, naming the file and the URL it could not
    read and what to check, and changes nothing."""
    needs_cluster()
    good = yaml.safe_load((lab_cluster / 'group_vars' / 'all' / 'lab.yml').read_text(encoding='utf-8'))['kubeseed_offline_bundle_url']
    gateway = re.match(r'http://([0-9.]+):', good).group(1)
    for url in (good.rsplit('/', 1)[0] + '/1.37.2-not-built', 'http://%s:9/1.37.2' % gateway):
        run = playbook('site.yml', '-i', str(lab_cluster), '-e', 'kubeseed_offline_bundle_url=%s' % url)
        assert run.rc != 0, run.output[-2000:]
        assert {h: r['changed'] for h, r in run.recap.items() if r['changed']} == {}, run.recap
        assert 'cannot read %s/manifest.json' % url in run.said and 'check kubeseed_offline_bundle_url and that this host reaches it' in run.said, \
            run.output[-3000:]
        assert {h for h, r in run.recap.items() if r['failed']} == {'ks-cp1', 'ks-w1', 'ks-w2'}, run.recap
        print('site.yml with the bundle at %s: failed after %.0fs, changed nothing' % (url, run.seconds))


def test_node_labels_and_taints_are_applied_kept_and_removed_leaving_the_others(lab_cluster, tmp_path):
    before = _labels_and_taints()
    assert sorted(before) == ['ks-cp1', 'ks-w1', 'ks-w2']
    assert {'key': 'node-role.kubernetes.io/control-plane', 'effect': 'NoSchedule'} in before['ks-cp1'][1]
    assert all(labels.get('kubernetes.io/hostname') == name and annotations == {} for name, (labels, _t, annotations) in before.items())
    extra = tmp_path / 'node-metadata.json'
    extra.write_text(json.dumps({'kubeseed_node_labels': dict([E2E_LABEL]), 'kubeseed_node_taints': [E2E_TAINT]}), encoding='utf-8')

    applied = playbook('site.yml', '-i', str(lab_cluster), '-e', '@%s' % extra)
    print('labels and taints applied: %.0fs' % applied.seconds)
    applied.assert_ok()
    assert NODE_METADATA_TASK in changed_tasks(applied.output)
    now = _labels_and_taints()
    for name, (labels, taints, annotations) in now.items():
        assert labels == dict(before[name][0], **dict([E2E_LABEL])), name
        assert taints == before[name][1] + [E2E_TAINT], name
        assert annotations == {'kubeseed.io/labels': 'kubeseed.io/e2e', 'kubeseed.io/taints': 'kubeseed.io/e2e:PreferNoSchedule'}, name

    # the later runs only need the phase that sets them (--tags ready; the whole site.yml's no-op run is tested elsewhere)
    again = playbook('site.yml', '-i', str(lab_cluster), '--tags', 'ready', '-e', '@%s' % extra)
    again.assert_ok()
    assert {h: r['changed'] for h, r in again.recap.items() if r['changed']} == {}

    # Without the variables: check mode predicts the removal on every node (diff) and changes nothing.
    check = playbook('site.yml', '-i', str(lab_cluster), '--tags', 'ready', '--check', '--diff')
    check.assert_ok()
    assert NODE_METADATA_TASK in changed_tasks(check.output)
    assert {h for h, r in check.recap.items() if r['changed']} == {'ks-cp1'}  # one call, run once (delegated) for the whole run
    for name in ('ks-cp1', 'ks-w1', 'ks-w2'):
        assert '--- before: node %s' % name in check.output
    assert '-  kubeseed.io/e2e: yes' in check.output and '-  - kubeseed.io/e2e=x:PreferNoSchedule' in check.output
    assert _labels_and_taints() == now

    removed = playbook('site.yml', '-i', str(lab_cluster), '--tags', 'ready')
    removed.assert_ok()
    assert NODE_METADATA_TASK in changed_tasks(removed.output)
    assert _labels_and_taints() == before  # exactly ours gone: kubeadm's control-plane taint and the kubelet's labels stay

    last = playbook('site.yml', '-i', str(lab_cluster), '--tags', 'ready')
    last.assert_ok()
    assert {h: r['changed'] for h, r in last.recap.items() if r['changed']} == {}


KUBELET_APPLY_TASK = "kubeseed.cluster.kubelet : This node's kubelet configuration, the kubelet restarted with it"
KUBELET_CLUSTER_TASK = ("kubeseed.cluster.kubelet : The cluster's kubelet configuration (ConfigMap kube-system/kubelet-config, the fields "
                        "kubeseed manages)")


def _max_pods() -> dict:
    """{node: the pod capacity its kubelet reports} and, under 'configmap', the maxPods of kube-system/kubelet-config."""
    nodes = json.loads(kubectl('get', 'nodes', '-o', 'json').stdout)['items']
    found = {n['metadata']['name']: n['status']['capacity']['pods'] for n in nodes}
    config_map = json.loads(kubectl('-n', 'kube-system', 'get', 'configmap', 'kubelet-config', '-o', 'json').stdout)
    found['configmap'] = yaml.safe_load(config_map['data']['kubelet']).get('maxPods')
    return found


def _wait_max_pods(expected: dict, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = _max_pods()
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(3)


def test_kubelet_configuration_changes_live_one_node_at_a_time_and_a_value_the_kubelet_refuses_is_rolled_back(lab_cluster, tmp_path):
    """kubeseed_kubelet_config on the running cluster: --check predicts, the run restarts each kubelet with it (pod capacity
    50), a re-run changes nothing; a value the kubelet refuses stops the run at the first node with its previous file back;
    removed from the variables, the default (110) comes back everywhere."""
    nodes = ['ks-cp1', 'ks-w1', 'ks-w2']
    assert _max_pods() == dict({n: '110' for n in nodes}, configmap=None)
    fifty = tmp_path / 'kubelet-50.json'
    fifty.write_text(json.dumps({'kubeseed_kubelet_config': {'maxPods': 50}}), encoding='utf-8')
    tags = ('site.yml', '-i', str(lab_cluster), '--tags', 'kubelet')

    check = playbook(*tags, '--check', '--diff', '-e', '@%s' % fifty)
    check.assert_ok()
    predicted = {t: sorted(h) for t, h in changed_tasks(check.output).items()}
    assert predicted == {KUBELET_APPLY_TASK: nodes, KUBELET_CLUSTER_TASK: ['ks-cp1']}, predicted
    assert 'maxPods: 50' in check.output
    assert _max_pods() == dict({n: '110' for n in nodes}, configmap=None)

    run = playbook(*tags, '-e', '@%s' % fifty)
    run.assert_ok()
    print('kubeseed_kubelet_config maxPods 50 on 1 + 2, one kubelet at a time: check %.0fs, run %.0fs' % (check.seconds, run.seconds))
    assert {t: sorted(h) for t, h in changed_tasks(run.output).items()} == predicted
    assert _wait_max_pods(dict({n: '50' for n in nodes}, configmap=50)) == dict({n: '50' for n in nodes}, configmap=50)
    again = playbook(*tags, '-e', '@%s' % fifty)
    again.assert_ok()
    assert changed_tasks(again.output) == {}

    # a value of the wrong type: the first node's kubelet exits on it, gets its previous file back, the run stops there
    bad = tmp_path / 'kubelet-bad.json'
    bad.write_text(json.dumps({'kubeseed_kubelet_config': {'maxPods': 'many'}}), encoding='utf-8')
    refused = playbook(*tags, '-e', '@%s' % bad)
    said = refused.said
    assert refused.rc != 0 and 'did not come back healthy with the new configuration (maxPods: 50 -> "many")' in said, refused.output[-3000:]
    assert 'healthy again' in said and refused.recap['ks-cp1']['failed'] == 1
    assert all(refused.recap[n]['changed'] == 0 for n in ('ks-w1', 'ks-w2')), refused.recap
    assert 'maxPods: 50' in _on('ks-cp1', 'cat', '/var/lib/kubelet/config.yaml')
    assert _wait_max_pods(dict({n: '50' for n in nodes}, configmap=50)) == dict({n: '50' for n in nodes}, configmap=50)
    assert _on('ks-cp1', 'systemctl', 'is-active', 'kubelet').strip() == 'active'

    # removed from the variables: removed from every node and from the ConfigMap (kubeseed owned it), the default is back
    removed = playbook(*tags)
    removed.assert_ok()
    assert {t: sorted(h) for t, h in changed_tasks(removed.output).items()} == predicted
    assert _wait_max_pods(dict({n: '110' for n in nodes}, configmap=None)) == dict({n: '110' for n in nodes}, configmap=None)
    last = playbook(*tags)
    last.assert_ok()
    assert changed_tasks(last.output) == {}
