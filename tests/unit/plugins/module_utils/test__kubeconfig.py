# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which kubeconfig: where the cluster playbook writes it (the roles' rule) and which one a module loads."""
from __future__ import annotations

import os

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeconfig import kubeconfig_path, resolve


def test_kubeconfig_path_is_the_configured_one_as_given():
    assert kubeconfig_path('~/prod.conf', 'prod') == '~/prod.conf'
    assert kubeconfig_path('/srv/kube/prod.conf', 'prod', home='/home/me') == '/srv/kube/prod.conf'


def test_kubeconfig_path_defaults_to_the_cluster_name_in_the_home(monkeypatch, tmp_path):
    assert kubeconfig_path('', 'prod', home='/home/me') == '/home/me/.kube/kubeseed-prod.conf'
    assert kubeconfig_path(None, 'kubeseed', home='/root') == '/root/.kube/kubeseed-kubeseed.conf'
    monkeypatch.setenv('HOME', str(tmp_path))
    assert kubeconfig_path('', 'prod') == os.path.join(str(tmp_path), '.kube', 'kubeseed-prod.conf')


def test_resolve_takes_an_explicit_kubeconfig_whether_or_not_it_exists(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    assert resolve('/param', '/from/env', '/kubeconfig/env') == '/param'
    assert resolve(None, '/from/env', '/kubeconfig/env') == '/from/env'
    assert resolve('', '~/from/env') == os.path.join(str(tmp_path), 'from', 'env')


def test_resolve_takes_the_first_kubeconfig_env_file_or_the_default_only_when_it_exists(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    first, second = tmp_path / 'first', tmp_path / 'second'
    second.write_text('')
    assert resolve(None, None, os.pathsep.join([str(first), str(second)])) is None  # only the first file of $KUBECONFIG counts
    assert resolve() is None  # in-cluster
    (tmp_path / '.kube').mkdir()
    (tmp_path / '.kube' / 'config').write_text('')
    assert resolve(None, None, str(first)) == str(tmp_path / '.kube' / 'config')
    first.write_text('')
    assert resolve(None, '', os.pathsep.join([str(first), str(second)])) == str(first)
