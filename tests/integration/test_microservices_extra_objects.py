"""kubeseed_microservices_extra_objects against a real API server: kinds found by discovery, every field checked by a
strict server-side dry run before anything is applied, owned and pruned with the set (also when their kind leaves the
list), Secret values never shown."""
from __future__ import annotations

from kubernetes import client

from conftest import exists

SECRET = 'extra-s3cret-never-shown'
SERVICES = [{'name': 'web', 'image': 'example.com/web:1'}]
POLICY = {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy', 'metadata': {'name': 'web-ingress'},
          'spec': {'podSelector': {'matchLabels': {'app.kubernetes.io/name': 'web'}}, 'policyTypes': ['Ingress'],
                   'ingress': [{'ports': [{'port': 8080}]}]}}
READER = {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': 'it-extra-reader'},
          'rules': [{'apiGroups': [''], 'resources': ['configmaps'], 'verbs': ['get', 'list']}]}
TOKEN = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'web-token'}, 'type': 'Opaque', 'stringData': {'TOKEN': SECRET}}


def test_extra_objects_are_checked_applied_owned_and_pruned(run, api):
    ns = 'it-extra'
    net, rbac, core = client.NetworkingV1Api(api), client.RbacAuthorizationV1Api(api), client.CoreV1Api(api)
    first = run.module(services=SERVICES, extra_objects=[POLICY, READER, TOKEN], namespace=ns, set_name='extras')
    assert not first.get('failed'), first.get('msg')
    assert not [o for o in first['objects'] if o['action'] != 'created'], first['objects']  # nothing of another set pruned
    assert {(o['kind'], o['name']): o['action'] for o in first['objects'] if o['kind'] in ('NetworkPolicy', 'ClusterRole', 'Secret')} == {
        ('NetworkPolicy', 'web-ingress'): 'created', ('ClusterRole', 'it-extra-reader'): 'created', ('Secret', 'web-token'): 'created'}
    policy = net.read_namespaced_network_policy('web-ingress', ns)  # namespaced: the set's namespace
    assert policy.metadata.labels == {'app.kubernetes.io/managed-by': 'kubeseed', 'kubeseed.io/set': 'extras'}
    assert rbac.read_cluster_role('it-extra-reader').rules[0].verbs == ['get', 'list']
    assert SECRET not in run.stdout + str(first)
    record = core.read_namespaced_config_map('kubeseed-set-extras-extra-kinds', ns)
    assert record.data == {'kinds': 'networking.k8s.io/v1 NetworkPolicy\nrbac.authorization.k8s.io/v1 ClusterRole\n'}
    assert run.module(services=SERVICES, extra_objects=[POLICY, READER, TOKEN], namespace=ns, set_name='extras')['changed'] is False

    # a misspelt field and a kind the cluster does not serve: refused, nothing applied (not even the valid new object)
    misspelt = dict(POLICY, spec=dict(POLICY['spec'], podSelektor={}))
    extra_cm = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'web-extra'}, 'data': {'a': 'b'}}
    refused = run.module(services=SERVICES, extra_objects=[misspelt, READER, TOKEN, extra_cm], namespace=ns, set_name='extras')
    assert refused['failed'] is True and refused['changed'] is False
    assert refused['msg'].startswith('1 object(s) of kubeseed_microservices_extra_objects were refused by the API server; nothing was '
                                     'applied:\n- NetworkPolicy it-extra/web-ingress: '), refused['msg']
    assert 'podSelektor' in refused['msg']
    widget = {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': 'w'}}
    unknown = run.module(services=SERVICES, extra_objects=[POLICY, widget, extra_cm], namespace=ns, set_name='extras')
    assert unknown['failed'] is True and unknown['changed'] is False
    assert 'kubeseed_microservices_extra_objects[1]: apiVersion example.com/v1 is not served by this cluster' in unknown['msg'], unknown['msg']
    assert not exists(core.read_namespaced_config_map, 'web-extra', ns)

    # check mode with diff: the Secret's value masked
    changed = dict(TOKEN, stringData={'TOKEN': SECRET + '-2'})
    check = run.module('--check', '--diff', services=SERVICES, extra_objects=[POLICY, READER, changed], namespace=ns, set_name='extras')
    assert not check.get('failed'), check.get('msg')
    assert [d['after_header'] for d in check['diff']] == ['Secret it-extra/web-token']
    assert '<hidden, changed>' in check['diff'][0]['after'] and SECRET not in run.stdout + str(check)

    # the ClusterRole's kind leaves the list: found through the record and pruned; the next run changes nothing
    pruned = run.module(services=SERVICES, extra_objects=[POLICY, TOKEN], namespace=ns, set_name='extras')
    assert {(o['kind'], o['action']) for o in pruned['objects'] if o['action'] != 'unchanged'} == {('ClusterRole', 'pruned'),
                                                                                                   ('ConfigMap', 'configured')}
    assert not exists(rbac.read_cluster_role, 'it-extra-reader')
    assert run.module(services=SERVICES, extra_objects=[POLICY, TOKEN], namespace=ns, set_name='extras')['changed'] is False
    gone = run.module(state='absent', namespace=ns, set_name='extras')
    assert {(o['kind'], o['action']) for o in gone['objects']} == {('Deployment', 'deleted'), ('NetworkPolicy', 'deleted'),
                                                                   ('Secret', 'deleted'), ('ConfigMap', 'deleted')}
    assert not exists(core.read_namespaced_config_map, 'kubeseed-set-extras-extra-kinds', ns)
