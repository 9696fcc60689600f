"""Write plugins/module_utils/_k8s_pod_schema.py: JSON Schemas of the Kubernetes pod fields kubeseed passes through as
written (affinity, topologySpread), converted from the Kubernetes OpenAPI v3 document of the bundle's default version.

Usage: python scripts/gen-k8s-pod-schema.py [--check] [--spec PATH/api__v1_openapi.json]
The document is in the Go module cache once the bundle is built (k8s.io/kubernetes@v<version>/api/openapi-spec/v3);
--check exits 1 when the file is out of date and 0 (saying so) when the document is not there.
Every object gets additionalProperties: false (a misspelt key is an error, as the API server's strict field validation
would say), every $ref is inlined (these types have no cycles), descriptions are left out (the Kubernetes API reference has them), and the
operators the OpenAPI document only describes in words become enums.
"""
from __future__ import annotations

import json
import os
import pathlib
import pprint
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools' / 'bundle'))
from kubeseed_bundle.pins import DEFAULT_VERSION  # noqa: E402  pylint: disable=wrong-import-position

OUT = ROOT / 'plugins' / 'module_utils' / '_k8s_pod_schema.py'
GOMODCACHE = pathlib.Path(os.environ.get('GOMODCACHE') or pathlib.Path.home() / 'go' / 'pkg' / 'mod')
SPEC = GOMODCACHE / 'k8s.io' / ('kubernetes@v%s' % DEFAULT_VERSION) / 'api' / 'openapi-spec' / 'v3' / 'api__v1_openapi.json'
TYPES = {'AFFINITY_SCHEMA': 'io.k8s.api.core.v1.Affinity', 'TOPOLOGY_SPREAD_CONSTRAINT_SCHEMA': 'io.k8s.api.core.v1.TopologySpreadConstraint'}
ENUMS = {
    'io.k8s.api.core.v1.NodeSelectorRequirement': {'operator': ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']},
    'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement': {'operator': ['In', 'NotIn', 'Exists', 'DoesNotExist']},
    'io.k8s.api.core.v1.TopologySpreadConstraint': {'whenUnsatisfiable': ['DoNotSchedule', 'ScheduleAnyway'],
                                                    'nodeAffinityPolicy': ['Honor', 'Ignore'], 'nodeTaintsPolicy': ['Honor', 'Ignore']},
}
# lower bounds the OpenAPI document only describes in words (the API server's validation refuses less)
MINIMA = {'io.k8s.api.core.v1.TopologySpreadConstraint': {'maxSkew': 1, 'minDomains': 1}}


def short(name: str) -> str:
    """k8s.<Type> for io.k8s.api.core.v1.<Type> and io.k8s.apimachinery.pkg.apis.meta.v1.<Type>."""
    return 'k8s.' + name.rsplit('.', 1)[-1]


def _ref(name: str) -> dict:
    return {'$ref': '#/$defs/' + short(name)}


def convert(node: dict, name: str = '', wanted: set | None = None) -> dict:
    """One OpenAPI schema node as JSON Schema; the types it refers to are added to wanted (referred to under #/$defs)."""
    if '$ref' in node:
        ref = node['$ref'].rsplit('/', 1)[-1]
        wanted.add(ref)
        return _ref(ref)
    if 'allOf' in node and len(node['allOf']) == 1:
        return convert(node['allOf'][0], '', wanted)
    out = {}
    kind = node.get('type')
    if kind == 'object' or 'properties' in node:
        out['type'] = 'object'
        if 'properties' in node:
            enums, minima = ENUMS.get(name, {}), MINIMA.get(name, {})
            out['properties'] = {}
            for key, sub in node['properties'].items():
                out['properties'][key] = convert(sub, '', wanted)
                if key in enums:
                    out['properties'][key]['enum'] = enums[key]
                if key in minima:
                    out['properties'][key]['minimum'] = minima[key]
            out['additionalProperties'] = False
        elif isinstance(node.get('additionalProperties'), dict):
            out['additionalProperties'] = convert(node['additionalProperties'], '', wanted)
        if node.get('required'):
            out['required'] = list(node['required'])
    elif kind == 'array':
        out['type'] = 'array'
        out['items'] = convert(node['items'], '', wanted)
    elif kind in ('string', 'integer', 'boolean', 'number'):
        out['type'] = kind
        if node.get('format') == 'int32':
            out.update(minimum=-2147483648, maximum=2147483647)
    return out


def definitions(schemas: dict) -> dict:
    """Every type TYPES need, converted, by its OpenAPI name."""
    out, todo = {}, set(TYPES.values())
    while todo:
        name = todo.pop()
        if name in out:
            continue
        found = set()
        out[name] = convert(schemas[name], name, found)
        todo |= found - set(out)
    return {short(name): schema for name, schema in sorted(out.items(), key=lambda item: short(item[0]))}


def render(spec: pathlib.Path) -> str:
    """The exact text of the generated module."""
    schemas = json.loads(spec.read_text(encoding='utf-8'))['components']['schemas']
    lines = ['# Copyright: kubeseed contributors',
             '# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)',
             '"""JSON Schemas of Kubernetes pod fields passed through as written, from the OpenAPI document of Kubernetes %s.' % DEFAULT_VERSION,
             '',
             'K8S_DEFS go under the $defs of the schema that refers to them (#/$defs/k8s.<Type>).',
             'Generated by scripts/gen-k8s-pod-schema.py: do not edit.',
             '"""', 'from __future__ import annotations', '']
    for variable, type_name in TYPES.items():
        lines.append('%s = %r' % (variable, _ref(type_name)))
    text = pprint.pformat(definitions(schemas), width=110, sort_dicts=False)
    lines.extend(['K8S_DEFS: dict = (', '\n'.join('    ' + line for line in text.split('\n')), ')'])
    return '\n'.join(lines) + '\n'


def main() -> int:
    args = sys.argv[1:]
    spec = pathlib.Path(args[args.index('--spec') + 1]) if '--spec' in args else SPEC
    if not spec.exists():
        print('%s is not there (build the bundle first): nothing compared' % spec)
        return 0
    text = render(spec)
    if '--check' in args:
        if not OUT.exists() or OUT.read_text(encoding='utf-8') != text:
            print('out of date (run python scripts/gen-k8s-pod-schema.py): %s' % OUT.relative_to(ROOT))
            return 1
        return 0
    OUT.write_text(text, encoding='utf-8')
    print('wrote %s' % OUT.relative_to(ROOT))
    return 0


if __name__ == '__main__':
    sys.exit(main())
