# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which revision a failed Deployment returns to, and the object applied for it."""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils import _k8s_rollback as rollback


def _template(image, hash_):
    return {'metadata': {'labels': {'app': 'api', 'pod-template-hash': hash_}, 'creationTimestamp': None},
            'spec': {'containers': [{'name': 'api', 'image': image}]}}


def _rs(name, revision, image, owner='api'):
    return {'kind': 'ReplicaSet', 'metadata': {'name': name, 'namespace': 'shop', 'annotations': {rollback.REVISION: str(revision)},
                                               'labels': {'app': owner},
                                               'ownerReferences': [{'kind': 'Deployment', 'name': owner}]},
            'spec': {'template': _template(image, name[-3:])}}


DEPLOYMENT = {'apiVersion': 'apps/v1', 'kind': 'Deployment',
              'metadata': {'name': 'api', 'namespace': 'shop', 'annotations': {rollback.REVISION: '3'}},
              'spec': {'selector': {'matchLabels': {'app': 'api'}}, 'replicas': 2, 'template': _template('api:bad', 'ccc')}}


def test_the_newest_earlier_revision_of_this_deployment_is_chosen():
    replicasets = [_rs('api-aaa', 1, 'api:1'), _rs('api-bbb', 2, 'api:2'), _rs('api-ccc', 3, 'api:bad'), _rs('other-ddd', 2, 'x:1', owner='other'),
                   dict(_rs('api-eee', 'x', 'api:?'))]
    revision, template = rollback.previous_revision(DEPLOYMENT, replicasets)
    assert revision == 2 and rollback.image_of(template) == 'api:2'
    assert template['metadata'] == {'labels': {'app': 'api'}}  # no pod-template-hash, no creationTimestamp
    assert replicasets[1]['spec']['template']['metadata']['labels']['pod-template-hash'] == 'bbb'  # not modified
    assert rollback.previous_revision(DEPLOYMENT, [_rs('api-ccc', 3, 'api:bad')]) is None  # its first rollout
    assert rollback.previous_revision(DEPLOYMENT, []) is None


def test_plan_applies_the_wanted_object_with_the_earlier_template(fake_client):
    wanted = {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'api', 'namespace': 'shop', 'labels': {'team': 'x'}},
              'spec': {'selector': {'matchLabels': {'app': 'api'}}, 'replicas': 2, 'template': _template('api:bad', 'ccc')}}
    client = fake_client([_rs('api-bbb', 2, 'api:2'), _rs('api-ccc', 3, 'api:bad')])
    target, line = rollback.plan(client, wanted, DEPLOYMENT)
    assert line == 'Deployment shop/api: rolled back to revision 2 (image api:2)'
    assert target['metadata'] == wanted['metadata'] and target['spec']['replicas'] == 2
    assert rollback.image_of(target['spec']['template']) == 'api:2' and rollback.image_of(wanted['spec']['template']) == 'api:bad'
    assert ('list', 'ReplicaSet', 'shop', 'app=api') in client.calls
    target, line = rollback.plan(fake_client([_rs('api-ccc', 3, 'api:bad')]), wanted, DEPLOYMENT)
    assert target is None and line == 'Deployment shop/api: not rolled back: no earlier revision (its first rollout)'
