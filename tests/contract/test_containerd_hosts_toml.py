"""roles/containerd templates/hosts.toml.j2: containerd's certs.d hosts file for a registry with mirrors, with a CA of
its own, and for a mirror that has a CA (rendered by the real template through ansible-playbook on localhost; the lab
e2e pulls through a registry with its own CA)."""
from __future__ import annotations

import base64
import json

PLAY = """
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - ansible.builtin.debug:
        msg: "B64={{ lookup('ansible.builtin.template', template, template_vars={'registry': registry}) | b64encode }}"
"""


def render(playbook, root, tmp_path, registry, mirrors, cas, credentials=None):
    play = tmp_path / 'play.yml'
    play.write_text(PLAY, encoding='utf-8')
    extra = {'template': str(root / 'roles' / 'containerd' / 'templates' / 'hosts.toml.j2'), 'registry': registry,
             'kubeseed_containerd_registry_mirrors': mirrors, 'kubeseed_containerd_registry_ca': cas,
             'kubeseed_containerd_registry_credentials': credentials or {}}
    result = playbook('-i', 'localhost,', str(play), '-e', json.dumps(extra))
    assert result.returncode == 0, result.stdout + result.stderr
    found = [line.split('B64=')[1].strip().strip('"') for line in result.stdout.splitlines() if 'B64=' in line]
    return base64.b64decode(found[0]).decode()


def test_mirrors_only(playbook, root, tmp_path):
    out = render(playbook, root, tmp_path, 'docker.io', {'docker.io': ['https://m1.example.com', 'http://m2:5000']}, {})
    assert out == ('# Managed by kubeseed (role containerd)\nserver = "https://registry-1.docker.io"\n\n'
                   '[host."https://m1.example.com"]\n  capabilities = ["pull", "resolve"]\n\n'
                   '[host."http://m2:5000"]\n  capabilities = ["pull", "resolve"]\n')


def test_a_registry_with_its_own_ca(playbook, root, tmp_path):
    out = render(playbook, root, tmp_path, '10.117.0.1:5443', {}, {'10.117.0.1:5443': 'PEM'})
    assert out == ('# Managed by kubeseed (role containerd)\nserver = "https://10.117.0.1:5443"\n'
                   'ca = "/etc/containerd/certs.d/10.117.0.1:5443/ca.crt"\n')


def test_credentials_of_a_registry_and_of_a_mirror_become_basic_authorization_headers(playbook, root, tmp_path):
    """The headers containerd sends for every request to that host (hosts.toml `header` at the top for the registry's own
    server, under the mirror's [host] entry for a mirror)."""
    basic = base64.b64encode(b'team:s3cret:with:colons').decode()
    out = render(playbook, root, tmp_path, '10.117.0.1:5443', {}, {'10.117.0.1:5443': 'PEM'},
                 {'10.117.0.1:5443': {'username': 'team', 'password': 's3cret:with:colons'}})
    assert out == ('# Managed by kubeseed (role containerd)\nserver = "https://10.117.0.1:5443"\n'
                   'ca = "/etc/containerd/certs.d/10.117.0.1:5443/ca.crt"\n\n'
                   '[header]\n  Authorization = "Basic %s"\n' % basic)
    out = render(playbook, root, tmp_path, 'registry.k8s.io', {'registry.k8s.io': ['https://mirror.corp:5443', 'https://open.corp']},
                 {'mirror.corp:5443': 'PEM'}, {'mirror.corp:5443': {'username': 'team', 'password': 's3cret:with:colons'}})
    assert out == ('# Managed by kubeseed (role containerd)\nserver = "https://registry.k8s.io"\n\n'
                   '[host."https://mirror.corp:5443"]\n  capabilities = ["pull", "resolve"]\n'
                   '  ca = "/etc/containerd/certs.d/mirror.corp:5443/ca.crt"\n\n'
                   '  [host."https://mirror.corp:5443".header]\n    Authorization = "Basic %s"\n\n'
                   '[host."https://open.corp"]\n  capabilities = ["pull", "resolve"]\n' % basic)


def test_a_mirror_with_a_path_is_its_api_root(playbook, root, tmp_path):
    """A mirror URL with a path (a Harbor proxy project, a registry holding upstream names): override_path, so containerd
    asks <url>/<name>/manifests/<tag> rather than <url>/v2/<name>/..."""
    out = render(playbook, root, tmp_path, 'registry.k8s.io', {'registry.k8s.io': ['https://mirror.corp:5443/v2/registry.k8s.io']}, {})
    assert out == ('# Managed by kubeseed (role containerd)\nserver = "https://registry.k8s.io"\n\n'
                   '[host."https://mirror.corp:5443/v2/registry.k8s.io"]\n  capabilities = ["pull", "resolve"]\n  override_path = true\n')


def test_a_mirror_with_a_ca(playbook, root, tmp_path):
    out = render(playbook, root, tmp_path, 'registry.k8s.io', {'registry.k8s.io': ['https://mirror.corp:5443']},
                 {'mirror.corp:5443': 'PEM'})
    assert out == ('# Managed by kubeseed (role containerd)\nserver = "https://registry.k8s.io"\n\n'
                   '[host."https://mirror.corp:5443"]\n  capabilities = ["pull", "resolve"]\n'
                   '  ca = "/etc/containerd/certs.d/mirror.corp:5443/ca.crt"\n')
