"""The apps playbook's guards against a real API server: a misspelt variable or an empty list never prunes a set,
and no failure path shows a Secret value (ansible-playbook -vvv output checked for a marker)."""
from __future__ import annotations

import base64

import yaml
from kubernetes import client

MARKER = 'm4rker-s3cret-never-shown'


def _vars(run, tmp_path, name, **values):
    data = {'kubeseed_microservices_kubeconfig': str(run.kubeconfig), 'kubeseed_microservices_wait': False}
    data.update(values)
    path = tmp_path / ('%s.yml' % name)
    path.write_text(yaml.safe_dump(data), encoding='utf-8')
    return path


def _apps(run, *args):
    playbook = str(run.collections / 'ansible_collections' / 'kubeseed' / 'cluster' / 'playbooks' / 'apps.yml')
    return run.playbook(playbook, *args)


def _set_versions(api, ns):
    """Each object of the set with its uid and the times kubeseed applied it: a delete or an apply of ours changes them (the
    resourceVersion would also change with the controllers' status updates, which lag behind on a loaded machine)."""
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)

    def version(obj):
        return obj.metadata.uid, tuple(sorted(str(m.time) for m in obj.metadata.managed_fields or [] if m.manager == 'kubeseed'))
    out = {('Deployment', d.metadata.name): version(d) for d in apps.list_namespaced_deployment(ns).items}
    out.update({('Service', s.metadata.name): version(s) for s in core.list_namespaced_service(ns).items})
    return out


SERVICES = [{'name': 'one', 'image': 'registry.example.com/one:1', 'ports': [{'port': 80}]},
            {'name': 'two', 'image': 'registry.example.com/two:1'}]


def test_a_typo_or_an_empty_list_never_prunes_the_set(run, api, tmp_path):
    ns = 'it-guard'
    base = dict(kubeseed_microservices_namespace=ns, kubeseed_microservices_set='guarded')
    first = _apps(run, '-e', '@%s' % _vars(run, tmp_path, 'ok', kubeseed_microservices=SERVICES, **base))
    assert first.returncode == 0, first.stdout + first.stderr
    before = _set_versions(api, ns)
    assert len(before) == 3

    # The list under a misspelt name: Ansible would ignore it and the role would see the default, [].
    typo = _apps(run, '-e', '@%s' % _vars(run, tmp_path, 'typo', kubeseed_microservice=SERVICES, **base))
    assert typo.returncode != 0
    assert 'kubeseed_microservice: unknown variable; did you mean kubeseed_microservices?' in typo.stdout, typo.stdout[-3000:]
    assert _set_versions(api, ns) == before

    empty = _apps(run, '-e', '@%s' % _vars(run, tmp_path, 'empty', kubeseed_microservices=[], **base))
    assert empty.returncode != 0
    assert "kubeseed_microservices: is empty, and with prune on that would delete every object of set 'guarded'" in empty.stdout
    assert _set_versions(api, ns) == before

    # An AWX survey that sends an empty text: refused the same way (a string is not a list).
    blank = _apps(run, '-e', '@%s' % _vars(run, tmp_path, 'blank', kubeseed_microservices='', **base))
    assert blank.returncode != 0 and _set_versions(api, ns) == before

    meant = _apps(run, '-e', '@%s' % _vars(run, tmp_path, 'meant', kubeseed_microservices=[],
                                           kubeseed_microservices_allow_empty=True, **base))
    assert meant.returncode == 0, meant.stdout + meant.stderr
    assert 'changed=1' in meant.stdout
    assert _set_versions(api, ns) == {}


def _assert_hidden(proc):
    output = proc.stdout + proc.stderr
    for form in (MARKER, base64.b64encode(MARKER.encode()).decode()):
        assert form not in output, 'a secret value is shown in the output:\n' + output[-4000:]


def test_no_failure_path_shows_a_secret_value(run, api, tmp_path):
    ns = 'it-secret-paths'
    base = dict(kubeseed_microservices_namespace=ns, kubeseed_microservices_set='secrets')
    broken = {
        'no-name': [{'image': 'registry.example.com/a:1', 'secrets': {'DB_PASSWORD': MARKER}}],
        'secrets-as-list': [{'name': 'a', 'image': 'registry.example.com/a:1', 'secrets': [MARKER]}],
        'value-as-list': [{'name': 'a', 'image': 'registry.example.com/a:1', 'secrets': {'DB_PASSWORD': [MARKER]}}],
        'bad-key': [{'name': 'a', 'image': 'registry.example.com/a:1', 'secrets': {'db password': MARKER}}],
        'other-field-broken': [{'name': 'a', 'image': 'registry.example.com/a:1', 'replicas': 'two',
                                'secrets': {'DB_PASSWORD': MARKER}}],
        'duplicate-name': [{'name': 'a', 'image': 'registry.example.com/a:1', 'secrets': {'DB_PASSWORD': MARKER}},
                           {'name': 'a', 'image': 'registry.example.com/a:2', 'secrets': {'DB_PASSWORD': MARKER}}],
    }
    for name, services in broken.items():
        proc = _apps(run, '-vvv', '-e', '@%s' % _vars(run, tmp_path, name, kubeseed_microservices=services, **base))
        assert proc.returncode != 0, name
        assert 'problem(s) in the microservices' in proc.stdout, (name, proc.stdout[-3000:])
        _assert_hidden(proc)

    # a shared secret put in kubeseed_microservices_defaults: refused there, its value hidden before the module runs
    defaults = {'replicas': 2, 'secrets': {'DB_PASSWORD': MARKER}}
    shared_vars = _vars(run, tmp_path, 'defaults-secret', kubeseed_microservices=[{'name': 'a', 'image': 'a:1'}],
                        kubeseed_microservices_defaults=defaults, **base)
    shared = _apps(run, '-vvv', '-e', '@%s' % shared_vars)
    assert shared.returncode != 0, shared.stdout[-3000:]
    assert "kubeseed_microservices_defaults: 'secrets' is not a known setting" in ' '.join(shared.stdout.split()), shared.stdout[-3000:]
    _assert_hidden(shared)

    # a Secret among the extra objects, in a run the API server's dry run refuses and in one that applies it (-vvv, --diff)
    token = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'extra-token'}, 'stringData': {'TOKEN': MARKER}}
    bad_policy = {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'p'}, 'spec': {'podSelektor': {}}}
    one = [{'name': 'a', 'image': 'registry.example.com/a:1'}]
    refused = _apps(run, '-vvv', '-e', '@%s' % _vars(run, tmp_path, 'extra-refused', kubeseed_microservices=one,
                                                     kubeseed_microservices_extra_objects=[token, bad_policy], **base))
    assert refused.returncode != 0 and 'refused by the API server; nothing was applied' in ' '.join(refused.stdout.split()), refused.stdout[-3000:]
    _assert_hidden(refused)
    extra_ok = _apps(run, '-vvv', '--diff', '-e', '@%s' % _vars(run, tmp_path, 'extra-ok', kubeseed_microservices=one,
                                                                kubeseed_microservices_extra_objects=[token], **base))
    assert extra_ok.returncode == 0, extra_ok.stdout[-3000:]
    _assert_hidden(extra_ok)
    stored = client.CoreV1Api(api).read_namespaced_secret('extra-token', ns)
    assert base64.b64decode(stored.data['TOKEN']).decode() == MARKER

    good = [{'name': 'a', 'image': 'registry.example.com/a:1', 'secrets': {'DB_PASSWORD': MARKER}}]
    applied = _apps(run, '-vvv', '--diff', '-e', '@%s' % _vars(run, tmp_path, 'good', kubeseed_microservices=good, **base))
    assert applied.returncode == 0, applied.stdout[-3000:]
    _assert_hidden(applied)
    stored = client.CoreV1Api(api).read_namespaced_secret('a-secrets', ns)
    assert base64.b64decode(stored.data['DB_PASSWORD']).decode() == MARKER

    # A predicted change (check mode, diff) and a rollout that fails (no node runs pods here): still hidden.
    changed = [dict(good[0], secrets={'DB_PASSWORD': MARKER + '-2'})]
    check = _apps(run, '-vvv', '--check', '--diff', '-e', '@%s' % _vars(run, tmp_path, 'check', kubeseed_microservices=changed, **base))
    assert check.returncode == 0 and '<hidden, changed>' in check.stdout, check.stdout[-3000:]
    _assert_hidden(check)
    timeout = _apps(run, '-vvv', '-e', '@%s' % _vars(run, tmp_path, 'timeout', kubeseed_microservices=good, kubeseed_microservices_wait=True,
                                                     kubeseed_microservices_wait_timeout=3, **base))
    assert timeout.returncode != 0 and 'did not roll out within 3s' in timeout.stdout, timeout.stdout[-3000:]
    _assert_hidden(timeout)
