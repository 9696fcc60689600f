# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Paths and credential lookup of the small Kubernetes client (no API server needed)."""
from __future__ import annotations

import pytest

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_client as k8s

KUBECONFIG = '''apiVersion: v1
kind: Config
clusters:
- {name: c, cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}}
users:
- {name: u, user: {token: abc}}
- {name: v, user: {token: other}}
contexts:
- {name: one, context: {cluster: c, user: u}}
- {name: two, context: {cluster: c, user: v}}
current-context: one
'''


def test_resource_paths():
    assert k8s.resource_path('Deployment', 'shop', 'api') == '/apis/apps/v1/namespaces/shop/deployments/api'
    assert k8s.resource_path('Deployment') == '/apis/apps/v1/deployments'
    assert k8s.resource_path('Namespace', 'ignored', 'shop') == '/api/v1/namespaces/shop'
    assert k8s.resource_path('HorizontalPodAutoscaler', 'a') == '/apis/autoscaling/v2/namespaces/a/horizontalpodautoscalers'
    assert k8s.resource_path('Ingress', 'a', 'b') == '/apis/networking.k8s.io/v1/namespaces/a/ingresses/b'


def test_kubeconfig_lookup_order(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('K8S_AUTH_KUBECONFIG', raising=False)
    monkeypatch.delenv('KUBECONFIG', raising=False)
    assert k8s.find_kubeconfig() is None
    (tmp_path / '.kube').mkdir()
    (tmp_path / '.kube' / 'config').write_text(KUBECONFIG)
    assert k8s.find_kubeconfig() == str(tmp_path / '.kube' / 'config')
    monkeypatch.setenv('K8S_AUTH_KUBECONFIG', '/from/env')
    assert k8s.find_kubeconfig() == '/from/env'
    assert k8s.find_kubeconfig('/param') == '/param'


def test_kubeconfig_env_is_read_after_k8s_auth_kubeconfig(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('K8S_AUTH_KUBECONFIG', raising=False)
    (tmp_path / 'kc').write_text(KUBECONFIG)
    monkeypatch.setenv('KUBECONFIG', str(tmp_path / 'kc'))
    assert k8s.find_kubeconfig() == str(tmp_path / 'kc')
    monkeypatch.setenv('K8S_AUTH_KUBECONFIG', '/from/env')
    assert k8s.find_kubeconfig() == '/from/env'


def test_client_uses_the_context_and_token(tmp_path, monkeypatch):
    pytest.importorskip('kubernetes')
    for name in ('K8S_AUTH_HOST', 'K8S_AUTH_API_KEY', 'K8S_AUTH_CONTEXT', 'K8S_AUTH_KUBECONFIG'):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / 'kc'
    path.write_text(KUBECONFIG)
    client = k8s.Client(str(path))
    assert client.host == 'https://127.0.0.1:1'
    assert client._headers(None)['Authorization'] == 'Bearer abc'  # pylint: disable=protected-access
    monkeypatch.setenv('K8S_AUTH_CONTEXT', 'two')
    assert k8s.Client(str(path))._headers(None)['Authorization'] == 'Bearer other'  # pylint: disable=protected-access


def test_missing_kubeconfig_says_what_to_do(tmp_path):
    pytest.importorskip('kubernetes')
    with pytest.raises(k8s.K8sError, match='does not exist: set kubeconfig'):
        k8s.Client(str(tmp_path / 'nope'))


def test_unreachable_server_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip('kubernetes')
    monkeypatch.delenv('K8S_AUTH_CONTEXT', raising=False)
    path = tmp_path / 'kc'
    path.write_text(KUBECONFIG)
    client = k8s.Client(str(path), timeout=2)
    with pytest.raises(k8s.K8sError, match='cannot reach the Kubernetes API at https://127.0.0.1:1'):
        client.get('Namespace', None, 'default')
