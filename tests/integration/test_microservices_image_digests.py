"""kubeseed_microservices_image_digests against a real registry: the CNCF distribution registry of the lab
(tools/lab/go/cmd/labregistry, the binary the lab caches) on loopback, TLS with its own CA, basic auth, holding the
bundle's demo image. The module asks it from the controller; the objects go to the local control plane."""
from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'lab'))

from kubeseed_lab import plan, proc, registry  # noqa: E402  pylint: disable=wrong-import-position

NS, SET = 'it-digests', 'digests'
PASSWORD = 'it-registry-pw-5c1d'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def lab_registry(tmp_path_factory):
    """A running labregistry on 127.0.0.1 (built once per version of its sources, as `lab.py registry up` does), the bundle's
    demo archive, and a push function: (host, ca PEM, push(tag, label) -> digest)."""
    bundle = subprocess.run([sys.executable, str(ROOT / 'tools' / 'bundle' / 'bundle.py'), 'path'], capture_output=True, text=True,
                            check=False).stdout.strip().splitlines()
    if not bundle or not (pathlib.Path(bundle[-1]) / 'manifest.json').is_file():
        pytest.skip('no bundle built (make bundle)')
    manifest = json.loads((pathlib.Path(bundle[-1]) / 'manifest.json').read_text(encoding='utf-8'))
    archive = pathlib.Path(bundle[-1]) / [i for i in manifest['app_images'] if i['name'] == 'kubeseed.local/demo:0.3.0'][0]['file']
    cache = pathlib.Path(os.environ.get('KUBESEED_CACHE') or pathlib.Path.home() / '.cache' / 'kubeseed')
    work = tmp_path_factory.mktemp('registry')
    paths = plan.Paths(cache=cache, run=work / 'run', inventory=work / 'inventory')
    tool = registry.Registry(paths, '127.0.0.1', 0, proc.Progress()).binary()
    port = _free_port()
    host = '127.0.0.1:%d' % port
    subprocess.run([str(tool), 'certs', '-dir', str(work / 'tls'), '-ip', '127.0.0.1'], check=True, capture_output=True)
    htpasswd = subprocess.run([str(tool), 'htpasswd', 'team'], input=PASSWORD + '\n', text=True, check=True, capture_output=True).stdout
    (work / 'htpasswd').write_text(htpasswd, encoding='utf-8')
    (work / 'config.yml').write_text(
        'version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n'
        'storage:\n  filesystem:\n    rootdirectory: %s\n' % (work / 'data')
        + 'http:\n  addr: %s\n  tls:\n    certificate: %s\n    key: %s\n' % (host, work / 'tls' / 'server.crt', work / 'tls' / 'server.key')
        + 'auth:\n  htpasswd:\n    realm: it\n    path: %s\n' % (work / 'htpasswd'), encoding='utf-8')
    with open(work / 'registry.log', 'wb') as log:
        server = subprocess.Popen([str(tool), 'serve', str(work / 'config.yml')], stdout=log, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (work / 'registry.log').read_text(encoding='utf-8')
                time.sleep(0.2)

        def push(tag: str, label: str = '') -> str:
            args = [str(tool), 'push', '-tar', str(archive), '-ref', '%s/team/demo:%s' % (host, tag), '-ca', str(work / 'tls' / 'ca.crt'),
                    '-user', 'team'] + (['-label', label] if label else [])
            out = subprocess.run(args, input=PASSWORD + '\n', text=True, check=True, capture_output=True).stdout
            return json.loads(out)['digest']
        yield host, (work / 'tls' / 'ca.crt').read_text(encoding='utf-8'), push
    finally:
        server.terminate()
        server.wait(timeout=30)


def _services(host: str) -> list:
    return [{'name': 'pinned', 'image': '%s/team/demo:1' % host, 'replicas': 0, 'ports': [{'port': 80, 'targetPort': 8080}],
             'sidecars': [{'name': 'side', 'image': 'team/demo:side'}], 'imageRegistry': host}]


def _images(api) -> list:
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    spec = client.AppsV1Api(api).read_namespaced_deployment('pinned', NS).spec.template.spec
    return [c.image for c in (spec.init_containers or []) + spec.containers]


def test_tags_are_pinned_to_the_registrys_digests_and_a_moved_tag_is_shown_then_applied(run, api, lab_registry):
    host, ca, push = lab_registry
    first_digest, side_digest = push('1'), push('side', 'it.kubeseed/side=1')
    credentials = {host: {'username': 'team', 'password': PASSWORD}}
    args = {'services': _services(host), 'namespace': NS, 'set_name': SET, 'image_digests': True, 'registry_ca': {host: ca},
            'registry_credentials': credentials}
    first = run.module('-vvv', **args)
    assert not first.get('failed'), first.get('msg')
    assert first['image_digests'] == {'%s/team/demo:1' % host: first_digest, '%s/team/demo:side' % host: side_digest}
    assert _images(api) == ['%s/team/demo:side@%s' % (host, side_digest), '%s/team/demo:1@%s' % (host, first_digest)]
    assert PASSWORD not in run.stdout
    assert run.module(**args)['changed'] is False  # the same digests: nothing to apply

    # the tag moves at the registry (a rebuilt image pushed as :1): a check run shows it and changes nothing
    moved = push('1', 'it.kubeseed/rebuilt=1')
    assert moved != first_digest
    check = run.module('--check', '--diff', **args)
    assert check['changed'] is True and check['image_digests']['%s/team/demo:1' % host] == moved
    assert first_digest in run.stdout and moved in run.stdout  # the diff: the old digest and the new one
    assert _images(api)[1].endswith(first_digest)
    applied = run.module(**args)
    assert applied['changed'] is True and _images(api)[1] == '%s/team/demo:1@%s' % (host, moved)
    assert run.module(**args)['changed'] is False


def test_a_registry_that_cannot_be_asked_fails_the_run_before_anything_is_applied(run, api, lab_registry):
    host, ca, _push = lab_registry
    before = _images(api)
    base = {'services': _services(host), 'namespace': NS, 'set_name': SET, 'image_digests': True}
    # the registry's CA not given: its certificate is not trusted
    untrusted = run.module('-vvv', registry_credentials={host: {'username': 'team', 'password': PASSWORD}}, **base)
    assert untrusted['failed'] is True and untrusted['changed'] is False
    assert 'the registry %s presented a certificate this machine does not trust' % host in untrusted['msg'], untrusted['msg']
    assert 'kubeseed_microservices_registry_ca' in untrusted['msg'] and PASSWORD not in run.stdout
    # a wrong password: refused, said without any password
    wrong = run.module('-vvv', registry_ca={host: ca}, registry_credentials={host: {'username': 'team', 'password': 'x' + PASSWORD}},
                       **base)
    assert wrong['failed'] is True and "refused the credentials of kubeseed_microservices_registry_credentials['%s']" % host in wrong['msg']
    assert '2 image(s) could not be resolved' in wrong['msg'] and 'nothing was applied' in wrong['msg'], wrong['msg']
    assert PASSWORD not in run.stdout
    # a tag the registry does not have
    missing = run.module(registry_ca={host: ca}, registry_credentials={host: {'username': 'team', 'password': PASSWORD}},
                         **dict(base, services=[dict(_services(host)[0], image='%s/team/demo:9' % host)]))
    assert missing['failed'] is True and 'team/demo:9 at %s: the registry has no such tag (HTTP 404)' % host in missing['msg']
    assert _images(api) == before  # nothing was applied by any of them
