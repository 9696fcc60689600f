"""docs/examples/environments: one shared list of services, and per environment (dev, prod inventories) the
kubeseed_microservices_defaults merged under it. `--check --diff` of the apps playbook shows each environment's merged
result against the real local control plane and changes nothing; then dev is applied for real."""
from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

from kubernetes import client
from kubernetes.client.rest import ApiException

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / 'docs' / 'examples' / 'environments'


def _apps(run, environment: str, *flags: str) -> subprocess.CompletedProcess:
    env = run._env()  # pylint: disable=protected-access
    env['K8S_AUTH_KUBECONFIG'] = str(run.kubeconfig)
    env.pop('ANSIBLE_INVENTORY', None)
    args = [str(pathlib.Path(sys.executable).parent / 'ansible-playbook'), 'kubeseed.cluster.apps', '-i', str(EXAMPLE / environment),
            '-e', '@' + str(EXAMPLE / 'services.yml'), '-e', 'kubeseed_microservices_wait=false', *flags]
    return subprocess.run(args, cwd=run.workdir, env=env, capture_output=True, text=True, timeout=300, check=False)


def _after(stdout: str, header: str) -> dict:
    """The 'after' JSON of one object's diff in ansible-playbook's output (the diff callback prints +lines)."""
    match = re.search(r'\+\+\+ after: %s\n@@[^\n]*\n((?:[+ ][^\n]*\n)+)' % re.escape(header), stdout)
    assert match, 'no diff for %s in:\n%s' % (header, stdout[-4000:])
    return json.loads(''.join(line[1:] + '\n' for line in match.group(1).splitlines()))


def test_each_environment_gets_its_defaults_merged_under_the_shared_services(run, api):
    apps, policy = client.AppsV1Api(api), client.PolicyV1Api(api)
    dev = _apps(run, 'dev', '--check', '--diff')
    assert dev.returncode == 0, dev.stdout + dev.stderr
    prod = _apps(run, 'prod', '--check', '--diff')
    assert prod.returncode == 0, prod.stdout + prod.stderr

    dev_api, prod_api = _after(dev.stdout, 'Deployment shop-dev/api'), _after(prod.stdout, 'Deployment shop/api')
    assert dev_api['spec']['replicas'] == 1 and prod_api['spec']['replicas'] == 3
    dev_pod, prod_pod = dev_api['spec']['template']['spec'], prod_api['spec']['template']['spec']
    assert dev_pod['containers'][0]['image'] == 'registry.dev.example.com/shop/api:1.4.2'
    assert prod_pod['containers'][0]['image'] == 'registry.example.com/shop/api:1.4.2'
    # env: the environment's LOG_LEVEL and the service's own variable, both
    assert {e['name']: e['value'] for e in dev_pod['containers'][0]['env']} == {'FEATURE_SEARCH': 'on', 'LOG_LEVEL': 'debug'}
    assert {e['name']: e['value'] for e in prod_pod['containers'][0]['env']} == {'FEATURE_SEARCH': 'on', 'LOG_LEVEL': 'info'}
    assert dev_api['metadata']['labels']['environment'] == 'dev' and prod_api['metadata']['labels']['environment'] == 'prod'
    assert prod_pod['topologySpreadConstraints'][0]['whenUnsatisfiable'] == 'DoNotSchedule'
    assert dev_pod['topologySpreadConstraints'][0]['whenUnsatisfiable'] == 'ScheduleAnyway'
    # web keeps its own memory limit and takes the environment's requests
    web = _after(prod.stdout, 'Deployment shop/web')['spec']['template']['spec']['containers'][0]['resources']
    assert web == {'limits': {'memory': '512Mi'}, 'requests': {'cpu': '250m', 'memory': '256Mi'}}
    assert 'PodDisruptionBudget shop/api' in prod.stdout and 'PodDisruptionBudget shop-dev/api' not in dev.stdout

    # check mode: nothing was made
    for namespace in ('shop-dev', 'shop'):
        try:
            apps.read_namespaced_deployment('api', namespace)
            raise AssertionError('check mode created Deployment %s/api' % namespace)
        except ApiException as exc:
            assert exc.status == 404

    applied = _apps(run, 'dev')
    assert applied.returncode == 0, applied.stdout + applied.stderr
    live = apps.read_namespaced_deployment('api', 'shop-dev')
    assert live.spec.replicas == 1 and live.spec.template.spec.containers[0].image == 'registry.dev.example.com/shop/api:1.4.2'
    assert not policy.list_namespaced_pod_disruption_budget('shop-dev').items
    again = _apps(run, 'dev', '--check', '--diff')
    assert again.returncode == 0 and 'changed=0' in again.stdout, again.stdout
