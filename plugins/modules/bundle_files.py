#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: bundle_files
short_description: Install files from a kubeseed offline bundle, verified against its manifest
version_added: 0.1.0
description:
  - Reads C(manifest.json) of an offline bundle (built by C(tools/bundle)) over http(s) or from a file URL, selects files by
    path prefix, and downloads only those that are missing or whose sha256 differs from the manifest's.
  - Every download is checked against the manifest's sha256 before it replaces anything.
  - The sha256 of each installed file is remembered in C(/var/lib/kubeseed/bundle-files.json) with the file's size, mtime,
    ctime and inode; while those are unchanged the file is not read again (a no-op run would otherwise read every binary).
    Any write, chmod or replacement changes the ctime, so a file changed by hand is hashed again, and check mode predicts it.
  - Returns the manifest, so later tasks know the versions, images and packages it holds.
author:
  - kubeseed maintainers (@kubeseed)
options:
  items:
    description: What to install.
    type: list
    elements: dict
    required: true
    suboptions:
      prefix:
        description: Bundle path prefix, for example C(bin/) or C(cni/).
        type: str
        required: true
      names:
        description: Only these file names under the prefix (all when empty).
        type: list
        elements: str
        default: []
      dest:
        description: Directory the files go to.
        type: path
        required: true
      mode:
        description: File mode (octal string).
        type: str
        default: '0644'
extends_documentation_fragment:
  - kubeseed.cluster.bundle
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Lists what would be downloaded; downloads only the manifest.
  diff_mode:
    support: none
    description: Binary files.
  platform:
    support: full
    platforms: posix
    description: Linux nodes.
'''

EXAMPLES = r'''
- name: Install kubeadm, kubelet and kubectl from the bundle
  kubeseed.cluster.bundle_files:
    url: http://10.117.0.1:8080/1.37.2-0123456789ab
    items:
      - prefix: bin/
        names: [kubeadm, kubelet, kubectl]
        dest: /usr/local/bin
        mode: '0755'
'''

RETURN = r'''
fetched:
  description: Bundle paths downloaded by this run (in check mode, those a run would download).
  returned: always
  type: list
  elements: str
  sample: [bin/kubelet]
modes_set:
  description: Bundle paths whose file was in place and only had its mode set (in check mode, would have).
  returned: always
  type: list
  elements: str
  sample: [bin/kubeadm]
manifest:
  description: The bundle manifest (versions, files with sha256, images, packages).
  returned: always
  type: dict
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _bundle as bundle


def main():
    module = AnsibleModule(
        argument_spec=dict(
            items=dict(type='list', elements='dict', required=True, options=dict(
                prefix=dict(type='str', required=True),
                names=dict(type='list', elements='str', default=[]),
                dest=dict(type='path', required=True),
                mode=dict(type='str', default='0644'),
            )),
            **bundle.SOURCE_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    problems = bundle.mode_problems(module.params['items'])
    if problems:
        module.fail_json(msg='; '.join(problems))
    source = bundle.Source(module.params['url'], module.params['timeout'], module.params['validate_certs'])
    try:
        manifest = source.manifest()
        cache = bundle.ChecksumCache()
        fetch, modes = bundle.plan(bundle.select(manifest, module.params['items']), checksum=cache)
        if not module.check_mode:
            for path, sha, dest, mode in fetch:
                source.fetch(path, sha, dest, mode)
                cache.record(dest, sha)
            for _path, sha, dest, mode in modes:
                os.chmod(dest, int(mode, 8))
                cache.record(dest, sha)  # a chmod changes the ctime
            cache.save()
    except bundle.BundleError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg='installing the bundle files: %s' % exc)
    module.exit_json(changed=bool(fetch or modes), fetched=[f[0] for f in fetch], modes_set=[f[0] for f in modes], manifest=manifest)


if __name__ == '__main__':
    main()
