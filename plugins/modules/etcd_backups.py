#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: etcd_backups
short_description: List, verify and prune the etcd backups of a cluster in a directory of the controller
version_added: 0.3.0
description:
  - Reads the backups of cluster O(cluster_name) in O(path), the directories C(<cluster_name>-<UTC timestamp>) that
    M(kubeseed.cluster.etcd_snapshot) makes (fetched by the kubeseed.cluster.etcd_backup role), newest first.
  - With O(select), picks one backup by name (or by the path of its directory) and checks it fits this cluster (its
    C(metadata.json) names O(cluster_name) and, when given, O(kubernetes_version)) and that every file has the size and
    sha256 recorded; it refuses otherwise, saying why and what to do. An empty O(select) is refused with the list of
    the backups there are.
  - With O(keep), removes all but the newest O(keep) usable backups of the cluster (and the directories of interrupted
    runs older than the newest backup); the selected backup is never removed. Backups of other clusters and other files
    are never touched.
  - Meant for the controller, with C(delegate_to=localhost).
author:
  - kubeseed maintainers (@kubeseed)
options:
  path:
    description: Directory holding the backups.
    type: path
    required: true
  cluster_name:
    description: Name of the cluster whose backups are read.
    type: str
    required: true
  select:
    description: Name of a backup in O(path), or the path of a backup directory, to verify and return as RV(backup).
    type: str
  kubernetes_version:
    description: With O(select), refuse a backup taken from another Kubernetes version.
    type: str
  keep:
    description: How many of the newest backups of the cluster to keep; older ones are removed. 0 removes nothing.
    type: int
    default: 0
extends_documentation_fragment:
  - kubeseed.cluster.attributes
attributes:
  check_mode:
    support: full
    description: Lists and verifies as in a real run and reports what would be removed; removes nothing.
  diff_mode:
    support: none
    description: RV(removed) lists what was (or would be) removed.
seealso:
  - module: kubeseed.cluster.etcd_snapshot
  - module: kubeseed.cluster.etcd_restore
'''

EXAMPLES = r'''
- name: Verify the backup to restore
  kubeseed.cluster.etcd_backups:
    path: ~/.kubeseed/backups
    cluster_name: prod
    kubernetes_version: 1.37.2
    select: prod-20261201T120000Z
  delegate_to: localhost
  register: chosen

- name: Keep the seven newest backups
  kubeseed.cluster.etcd_backups:
    path: ~/.kubeseed/backups
    cluster_name: prod
    keep: 7
  delegate_to: localhost
'''

RETURN = r'''
backups:
  description: The backups of the cluster in O(path) before any removal, newest first.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: prod-20261201T120000Z, path: /home/ops/.kubeseed/backups/prod-20261201T120000Z, usable: true, problem: null,
       created: '2026-12-01T12:00:00Z', kubernetes_version: 1.37.2, etcd_version: 3.7.0, revision: 48213}
backup:
  description: The selected backup, verified; RV(backups) keys plus its C(metadata) and the C(path), C(sha256) and C(size) of its C(snapshot) and C(pki).
  returned: with select
  type: dict
removed:
  description: Backup directories removed (in check mode, that would be removed), oldest first.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _etcd as etcd


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            cluster_name=dict(type='str', required=True),
            select=dict(type='str'),
            kubernetes_version=dict(type='str'),
            keep=dict(type='int', default=0),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**etcd.backups_module(module))


if __name__ == '__main__':
    main()
