# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets handling of the kubeadm modules: 0600 files, redaction, multi-document rendering."""
from __future__ import annotations

import json
import os

from ansible_collections.kubeseed.cluster.plugins.module_utils import _kubeadm_ops as ops


def test_write_private_is_0600_and_reports_changes_only(tmp_path):
    path = str(tmp_path / 'kubernetes' / 'join.yaml')
    assert ops.write_private(path, 'token: abc') is True
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert ops.write_private(path, 'token: abc') is False
    os.chmod(path, 0o644)
    assert ops.write_private(path, 'token: abc') is True
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert ops.write_private(path, 'token: xyz', dry_run=True) is True
    with open(path, encoding='utf-8') as handle:
        assert handle.read() == 'token: abc'
    assert [p.name for p in (tmp_path / 'kubernetes').iterdir()] == ['join.yaml']


def test_redact_removes_tokens_and_certificate_keys():
    text = ('kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --certificate-key '
            + 'a1' * 32 + ' failed')
    redacted = ops.redact(text)
    assert 'abcdef.0123456789abcdef' not in redacted and 'a1' * 32 not in redacted
    assert redacted.count('<redacted>') == 2 and redacted.endswith(' failed')


def test_render_writes_one_document_per_configuration():
    text = ops.render([{'kind': 'InitConfiguration'}, {'kind': 'ClusterConfiguration'}])
    documents = [json.loads(part) for part in text.split('---\n') if part.strip()]
    assert [d['kind'] for d in documents] == ['InitConfiguration', 'ClusterConfiguration']
