#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: bundle_debs
short_description: Install the Debian packages of a kubeseed offline bundle that are missing or at another version
version_added: 0.1.0
description:
  - Reads the bundle manifest, downloads its C(.deb) files that are not cached yet (each checked against the manifest's sha256),
    compares them with the packages installed (C(dpkg-query)) and installs, in one C(dpkg --install) run, those whose package is
    not installed at the bundle's version. Nothing else is touched, so a second run changes nothing.
author:
  - kubeseed maintainers (@kubeseed)
options:
  cache_dir:
    description: Where the .deb files are kept on the host.
    type: path
    default: /var/cache/kubeseed/debs
  sets:
    description:
      - Further package sets of the bundle to install besides the host packages. C(ha) is keepalived and what it needs, for
        the API server's virtual IP (C(kubeseed_control_plane_vip)) on the control planes.
    type: list
    elements: str
    choices: [ha]
    default: []
    version_added: 0.10.0
extends_documentation_fragment:
  - kubeseed.cluster.bundle
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Lists the packages that would be installed.
  diff_mode:
    support: none
    description: Package lists are returned instead.
  platform:
    support: full
    platforms: posix
    description: Debian and Ubuntu hosts.
'''

EXAMPLES = r'''
- name: Install containerd, runc, conntrack, ... from the bundle
  kubeseed.cluster.bundle_debs:
    url: http://10.117.0.1:8080/1.37.2-0123456789ab

- name: The same on a control plane that holds the API server's virtual IP, and keepalived
  kubeseed.cluster.bundle_debs:
    url: http://10.117.0.1:8080/1.37.2-0123456789ab
    sets: [ha]
'''

RETURN = r'''
installed:
  description: C(name=version) of the packages installed by this run (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [containerd=1.6.20~ds1-1+deb12u3]
url:
  description: The bundle read (the O(url) option); the containerd role does not ask again for a bundle the node role read in the same run.
  returned: always
  type: str
  sample: http://10.117.0.1:8080/1.37.2-9391f9089577
sets:
  description: The package sets installed besides the host packages (the O(sets) option).
  returned: always
  type: list
  elements: str
  sample: [ha]
  version_added: 0.10.0
manifest:
  description: The bundle manifest.
  returned: always
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _bundle as bundle


def main():
    module = AnsibleModule(
        argument_spec=dict(
            cache_dir=dict(type='path', default='/var/cache/kubeseed/debs'),
            sets=dict(type='list', elements='str', choices=['ha'], default=[]),
            **bundle.SOURCE_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    source = bundle.Source(module.params['url'], module.params['timeout'], module.params['validate_certs'])
    try:
        manifest = source.manifest()
    except bundle.BundleError as exc:
        module.fail_json(msg=str(exc))
    rc, out, err = module.run_command(['dpkg-query', '--show', '--showformat', '${db:Status-Status} ${Package} ${Version}\\n'])
    if rc not in (0, 1):
        module.fail_json(msg='dpkg-query failed: %s' % err)
    try:
        missing = bundle.missing_debs(manifest, out, tuple(module.params['sets']))
    except bundle.BundleError as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=bool(missing), installed=['%s=%s' % (f['component'], f['version']) for f in missing], manifest=manifest,
                  url=module.params['url'], sets=sorted(module.params['sets']))
    if module.check_mode or not missing:
        module.exit_json(**result)
    paths = [os.path.join(module.params['cache_dir'], os.path.basename(entry['path'])) for entry in missing]
    try:
        for entry, dest in zip(missing, paths):
            if bundle.sha256_file(dest) != entry['sha256']:
                source.fetch(entry['path'], entry['sha256'], dest, '0644')
    except bundle.BundleError as exc:
        module.fail_json(msg=str(exc))
    rc, out, err = module.run_command(['dpkg', '--install', '--force-confold'] + paths, environ_update={'DEBIAN_FRONTEND': 'noninteractive'})
    if rc != 0:
        module.fail_json(msg='dpkg --install of the bundle packages failed: %s' % (err or out)[-3000:], **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
