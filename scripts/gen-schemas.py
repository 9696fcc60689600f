"""Write the published JSON Schemas (schemas/*.schema.json) from the ones in plugins/module_utils.

Usage: python scripts/gen-schemas.py [--check]   (--check: exit 1 if a file is out of date)
Run with the collection importable (make schemas sets that up).
"""
from __future__ import annotations

import json
import pathlib
import sys

from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_schema import CLUSTER_SCHEMA
from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_schema import MICROSERVICES_SCHEMA

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMAS = {'cluster.schema.json': CLUSTER_SCHEMA, 'microservices.schema.json': MICROSERVICES_SCHEMA}


def render(schema: dict) -> str:
    """The exact text of a published schema file."""
    return json.dumps(schema, indent=2, sort_keys=False) + '\n'


def main() -> int:
    """Write (or with --check, compare) every schema file."""
    check = '--check' in sys.argv[1:]
    stale = []
    for name, schema in SCHEMAS.items():
        path = ROOT / 'schemas' / name
        text = render(schema)
        if check:
            if not path.exists() or path.read_text(encoding='utf-8') != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, encoding='utf-8')
            print('wrote %s' % path.relative_to(ROOT))
    if stale:
        print('out of date (run make schemas): %s' % ', '.join(stale))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
