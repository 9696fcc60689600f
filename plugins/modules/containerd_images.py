#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: containerd_images
short_description: Import image archives into containerd when containerd lacks them
version_added: 0.2.0
description:
  - Lists the images of a containerd namespace and imports, from local image archives (for example the offline bundle's),
    only those it lacks. C(changed) comes from that listing, so check mode predicts a missing image (one removed by hand,
    or a node where containerd is not installed yet) without importing it.
author:
  - kubeseed maintainers (@kubeseed)
options:
  images:
    description: The images, each with its reference C(name) and the archive C(file) (relative to O(directory) unless absolute).
    type: list
    elements: dict
    required: true
  directory:
    description: Directory of the archives.
    type: path
    default: /var/cache/kubeseed
  namespace:
    description: containerd namespace (Kubernetes uses V(k8s.io)).
    type: str
    default: k8s.io
extends_documentation_fragment:
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Lists the images and reports the ones a run would import; imports nothing.
  diff_mode:
    support: none
    description: The C(imported) list says what changes.
'''

EXAMPLES = r'''
- name: Import the bundle's images that containerd lacks
  kubeseed.cluster.containerd_images:
    images: "{{ bundle.manifest.images }}"
'''

RETURN = r'''
imported:
  description: References of the images imported (in check mode, those that would be).
  returned: always
  type: list
  elements: str
  sample: [registry.k8s.io/pause:3.10.2]
'''

import os

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            'images': {'type': 'list', 'elements': 'dict', 'required': True},
            'directory': {'type': 'path', 'default': '/var/cache/kubeseed'},
            'namespace': {'type': 'str', 'default': 'k8s.io'},
        },
        supports_check_mode=True,
    )
    images = module.params['images']
    for index, image in enumerate(images):
        if not isinstance(image.get('name'), str) or not isinstance(image.get('file'), str):
            module.fail_json(msg='images[%d]: needs a name and a file (the archive)' % index)
    ctr = module.get_bin_path('ctr')
    if ctr is None:
        if module.check_mode:
            # containerd is not installed yet: a run installs it first, then imports every image.
            module.exit_json(changed=bool(images), imported=[i['name'] for i in images], msg='ctr is not installed yet')
        module.fail_json(msg='ctr (containerd) is not installed on this host; install containerd first (role containerd)')
    base = [ctr, '--namespace', module.params['namespace']]
    rc, out, err = module.run_command(base + ['images', 'list', '--quiet'])
    if rc != 0:
        if module.check_mode:
            module.exit_json(changed=bool(images), imported=[i['name'] for i in images],
                             msg='containerd does not answer (%s); a run starts it first' % err.strip())
        module.fail_json(msg='cannot list the images of containerd: %s (is containerd running?)' % err.strip())
    present = set(out.split())
    missing = [image for image in images if image['name'] not in present]
    if not module.check_mode:
        for image in missing:
            path = os.path.join(module.params['directory'], image['file'])
            rc, _out, err = module.run_command(base + ['images', 'import', '--no-unpack', path])
            if rc != 0:
                module.fail_json(msg='importing %s from %s failed: %s' % (image['name'], path, err.strip()),
                                 changed=True, imported=[])
    module.exit_json(changed=bool(missing), imported=[image['name'] for image in missing])


if __name__ == '__main__':
    main()
