# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API endpoint string, shared by the kubeadm modules and the roles' filter."""
from __future__ import annotations

import pytest

from ansible_collections.kubeseed.cluster.plugins.filter.api_endpoint import FilterModule
from ansible_collections.kubeseed.cluster.plugins.module_utils._endpoint import api_endpoint
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm import endpoint


@pytest.mark.parametrize('configured, address, expected', [
    ('', '10.0.0.1', '10.0.0.1:6443'),
    ('', 'fd00::1', '[fd00::1]:6443'),
    ('lb.example.com', '10.0.0.1', 'lb.example.com:6443'),
    ('lb.example.com:8443', '10.0.0.1', 'lb.example.com:8443'),
    ('[fd00::10]', '10.0.0.1', '[fd00::10]:6443'),
    ('[fd00::10]:8443', '10.0.0.1', '[fd00::10]:8443'),
    ('10.0.0.100', 'fd00::1', '10.0.0.100:6443'),
])
def test_one_rule_for_modules_and_roles(configured, address, expected):
    assert api_endpoint(configured, address, 6443) == expected
    assert FilterModule().filters()['api_endpoint'](configured, address, 6443) == expected
    assert endpoint({'control_plane_endpoint': configured, 'advertise_address': address, 'apiserver_port': 6443}) == expected
