# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kubeconfig_path filter: the one rule of the roles for where the admin kubeconfig is kept on the controller."""
from __future__ import annotations

import pathlib

import pytest

from ansible_collections.kubeseed.cluster.plugins.filter.kubeconfig_path import FilterModule

ROOT = pathlib.Path(__file__).resolve().parents[4]


@pytest.mark.parametrize('dest, name, home, expected', [
    ('', 'prod', '/home/me', '/home/me/.kube/kubeseed-prod.conf'),
    (None, 'kubeseed', '/root', '/root/.kube/kubeseed-kubeseed.conf'),
    ('~/clusters/prod.conf', 'prod', '/home/me', '~/clusters/prod.conf'),
])
def test_filter(dest, name, home, expected):
    assert FilterModule().filters()['kubeconfig_path'](dest, name, home) == expected


def test_the_controller_home_is_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    assert FilterModule().filters()['kubeconfig_path']('', 'prod') == '%s/.kube/kubeseed-prod.conf' % tmp_path


@pytest.mark.parametrize('path', ['roles/control_plane/vars/main.yml', 'roles/microservices/tasks/apply.yml'])
def test_the_roles_use_the_filter_and_spell_no_rule_of_their_own(path):
    text = (ROOT / path).read_text(encoding='utf-8')
    assert 'kubeseed_kubeconfig_dest | kubeseed.cluster.kubeconfig_path(kubeseed_cluster_name)' in text
    assert '/.kube/kubeseed-' not in text
