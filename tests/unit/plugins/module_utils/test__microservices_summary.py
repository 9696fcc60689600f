# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release summary: a row per service from the objects after a run, and its table."""
from __future__ import annotations

from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_render as render
from ansible_collections.kubeseed.cluster.plugins.module_utils import _microservices_summary as summary

SERVICES = [
    {'name': 'api', 'image': 'shop/api:1.4', 'imageRegistry': 'registry.example.com', 'replicas': 2, 'ports': [{'port': 80, 'targetPort': 8080}],
     'config': {'A': '1'}},
    {'name': 'web', 'image': 'registry.example.com/shop/web:2', 'ports': [{'port': 80, 'nodePort': 30080}], 'service': {'type': 'NodePort'},
     'ingress': {'host': 'shop.example.com', 'tlsSecret': 'shop-tls'}},
    {'name': 'worker', 'image': 'registry.example.com/shop/worker:3'},
]


def _after():
    objects = {render.object_key(o): o for o in render.render_all(SERVICES, 'shop', 'shop', create_namespaces=False)}
    for key, obj in objects.items():
        if key[0] == 'Deployment':
            obj['status'] = {'availableReplicas': 1}
    return objects


def _node(name, ready, *addresses):
    return {'metadata': {'name': name}, 'status': {'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}],
                                                   'addresses': [{'type': t, 'address': a} for t, a in addresses]}}


def test_node_address_prefers_a_ready_node_and_its_internal_ip():
    nodes = [_node('a', False, ('InternalIP', '10.0.0.1')), _node('b', True, ('Hostname', 'b'), ('InternalIP', '10.0.0.2'))]
    assert summary.node_address(nodes) == '10.0.0.2'
    assert summary.node_address([_node('c', True, ('Hostname', 'c'))]) == 'c'
    assert summary.node_address([]) == summary.NODE_PLACEHOLDER


def test_rows_say_image_ready_endpoints_and_changes_per_service():
    objects = _after()
    actions = [{'kind': k, 'namespace': ns, 'name': n, 'action': 'unchanged'} for k, ns, n in objects]
    actions = [dict(a, action='configured') if (a['kind'], a['name']) in (('Deployment', 'api'), ('ConfigMap', 'api-config')) else a
               for a in actions]
    old = {'kind': 'Deployment', 'metadata': {'name': 'old', 'namespace': 'shop', 'labels': render.ownership_labels('shop', 'old')}}
    gone = {('Deployment', 'shop', 'old'): old}
    actions.append({'kind': 'Deployment', 'namespace': 'shop', 'name': 'old', 'action': 'pruned'})
    rollouts = [{'kind': 'Deployment', 'namespace': 'shop', 'name': 'api', 'ready': True, 'replicas': 2, 'available': 2}]
    rows = {r['service']: r for r in summary.rows(objects, actions, rollouts, '10.0.0.2', gone)}
    assert rows['api'] == {'service': 'api', 'namespace': 'shop', 'kind': 'Deployment', 'image': 'registry.example.com/shop/api:1.4', 'ready': '2/2',
                           'endpoints': ['api.shop.svc:80'], 'changes': ['ConfigMap configured', 'Deployment configured']}
    assert rows['web']['endpoints'] == ['web.shop.svc:80', 'http://10.0.0.2:30080', 'https://shop.example.com/']
    assert rows['web']['ready'] == '1/1' and rows['web']['changes'] == []  # not waited for: its status as the server returned it
    assert rows['worker']['endpoints'] == []
    assert rows['old'] == {'service': 'old', 'namespace': 'shop', 'kind': 'Deployment', 'image': '-', 'ready': None, 'endpoints': [],
                           'changes': ['Deployment pruned']}

    text = summary.table('shop', list(rows.values()))
    assert text[0] == 'set shop: 4 service(s), 2 changed'
    assert text[1].split() == ['SERVICE', 'IMAGE', 'READY', 'ENDPOINTS', 'CHANGES']
    assert text[2].split() == ['shop/api', 'registry.example.com/shop/api:1.4', '2/2', 'api.shop.svc:80', 'ConfigMap', 'configured,', 'Deployment',
                               'configured']
    assert text[1].index('IMAGE') == text[2].index('registry.example.com')  # aligned columns
    assert text[3].split()[:4] == ['shop/old', '-', '-', '-'] and text[4].endswith('  unchanged')
    assert summary.table('shop', [], check_mode=True) == ['set shop: 0 service(s), 0 would change (check mode)', 'SERVICE  IMAGE  READY  ENDPOINTS  CHANGES']


def test_a_load_balancer_and_a_new_object_in_check_mode():
    service = {'metadata': {'name': 'api', 'namespace': 'shop'}, 'spec': {'type': 'LoadBalancer', 'ports': [{'port': 443, 'nodePort': 31443}]},
               'status': {'loadBalancer': {'ingress': [{'ip': '192.0.2.10'}, {'hostname': 'lb.example.com'}]}}}
    assert summary.endpoints(service, None, 'n1') == ['api.shop.svc:443', 'http://n1:31443', 'http://192.0.2.10:443', 'http://lb.example.com:443']
    # a Deployment predicted in check mode (no status yet): ready unknown
    objects = {k: v for k, v in _after().items() if k[2] == 'worker'}
    objects[('Deployment', 'shop', 'worker')].pop('status')
    assert summary.rows(objects, [], [])[0]['ready'] is None
