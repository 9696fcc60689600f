# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers over one object: key, name in messages, comparison without server fields, diff without Secret values."""
from __future__ import annotations

import base64

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_objects as objects

SECRET = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'db', 'namespace': 'shop'},
          'data': {'password': base64.b64encode(b'hunter2').decode('ascii')}}


def test_key_and_description():
    assert objects.object_key(SECRET) == ('Secret', 'shop', 'db')
    assert objects.describe(('Secret', 'shop', 'db')) == 'Secret shop/db'
    assert objects.describe(objects.object_key({'kind': 'Namespace', 'metadata': {'name': 'shop'}})) == 'Namespace shop'


def test_normalize_drops_what_the_server_keeps_and_nothing_else():
    live = {'kind': 'ConfigMap', 'metadata': {'name': 'a', 'resourceVersion': '7', 'uid': 'u', 'managedFields': [{}],
                                              'annotations': {'deployment.kubernetes.io/revision': '3'}},
            'data': {'k': 'v'}, 'status': {}}
    assert objects.normalize(live) == {'kind': 'ConfigMap', 'metadata': {'name': 'a'}, 'data': {'k': 'v'}}
    assert live['metadata']['resourceVersion'] == '7'  # the input is not modified
    assert objects.normalize(None) is None


def test_diff_never_shows_a_secret_value():
    changed = dict(SECRET, data={'password': base64.b64encode(b'swordfish').decode('ascii')})
    entry = objects.diff_entry(objects.object_key(SECRET), SECRET, changed)
    text = entry['before'] + entry['after']
    assert 'hunter2' not in text and 'swordfish' not in text and 'aHVudGVyMg' not in text
    assert objects.HIDDEN_CHANGED in entry['after'] and entry['before_header'] == 'Secret shop/db'
    plain = dict(SECRET, stringData={'token': True})
    assert objects.mask_secret(plain)['data']['token'] == objects.HIDDEN
    assert objects.scalar_text(True) == 'true' and objects.scalar_text(3) == '3'
