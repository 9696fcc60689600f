#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: etcd_snapshot
short_description: Save an etcd snapshot and an archive of the PKI on a kubeadm control plane with stacked etcd
version_added: 0.3.0
description:
  - Runs on a control plane. Saves a snapshot of the local etcd member (C(etcdctl snapshot save) against O(endpoint) with
    kubeadm's etcd CA and health-check client certificate), checks it with C(etcdutl snapshot status), archives O(pki_dir)
    as a tar.gz, and writes C(metadata.json) (cluster name, Kubernetes and etcd versions, revision, sha256 and size of each
    file), all in a new directory C(<cluster_name>-<UTC timestamp>) under O(dest) (mode 0700, files 0600).
  - The PKI archive holds the cluster's private keys. Its content is never shown; fetch it to a safe place and remove the
    directory from the host (the kubeseed.cluster.etcd_backup role does both).
  - When anything fails the new directory is removed again, so a directory holds a whole backup or nothing.
  - etcdctl and etcdutl (etcd 3.6 and later restore with etcdutl only) are looked up with C(get_bin_path); when one is
    missing the module fails naming what to install. The offline bundle installs both on the control planes; the
    Kubernetes package repositories have neither.
  - Every run saves a new backup, so it always reports a change.
author:
  - kubeseed maintainers (@kubeseed)
options:
  dest:
    description: Directory on the host under which the backup directory is created (made with mode 0700).
    type: path
    default: /var/lib/kubeseed/backup
  cluster_name:
    description: Name of the cluster; the backup is named after it and C(metadata.json) records it.
    type: str
    required: true
  kubernetes_version:
    description: Kubernetes version of the cluster, recorded in C(metadata.json) (a restore refuses a backup of another version).
    type: str
    required: true
  endpoint:
    description: Client URL of the etcd member to snapshot (the local member of a stacked control plane).
    type: str
    default: https://127.0.0.1:2379
  etcd_pki_dir:
    description: Directory with kubeadm's etcd C(ca.crt), C(healthcheck-client.crt) and C(healthcheck-client.key).
    type: path
    default: /etc/kubernetes/pki/etcd
  pki_dir:
    description: PKI directory archived next to the snapshot.
    type: path
    default: /etc/kubernetes/pki
  timeout:
    description: Seconds etcdctl may take for the snapshot.
    type: int
    default: 300
  etcdctl_path:
    description: etcdctl binary, a name or a path (looked up in C(/usr/local/bin), C(/usr/bin) and E(PATH)).
    type: path
    default: etcdctl
  etcdutl_path:
    description: etcdutl binary, a name or a path (looked up in C(/usr/local/bin), C(/usr/bin) and E(PATH)).
    type: path
    default: etcdutl
extends_documentation_fragment:
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Checks that the tools and the client certificate are there and reports the backup it would save; saves nothing.
  diff_mode:
    support: none
    description: A new backup has no previous state to compare.
  platform:
    support: full
    platforms: posix
    description: Linux control-plane nodes of a kubeadm cluster with stacked etcd.
seealso:
  - module: kubeseed.cluster.etcd_restore
  - module: kubeseed.cluster.etcd_backups
'''

EXAMPLES = r'''
- name: Save a backup on the first control plane
  kubeseed.cluster.etcd_snapshot:
    cluster_name: prod
    kubernetes_version: 1.37.2
  register: backup

- name: Fetch the snapshot to the controller
  ansible.builtin.fetch:
    src: "{{ backup.snapshot.path }}"
    dest: "/srv/backups/{{ backup.name }}/"
    flat: true
'''

RETURN = r'''
name:
  description: Name of the backup, C(<cluster_name>-<UTC timestamp>).
  returned: always
  type: str
  sample: prod-20261201T120000Z
directory:
  description: Directory of the backup on the host.
  returned: always
  type: str
snapshot:
  description: The etcd snapshot file (C(etcd-snapshot.db)).
  returned: success, not in check mode
  type: dict
  contains:
    path:
      description: Path on the host.
      type: str
    sha256:
      description: sha256 of the file.
      type: str
    size:
      description: Size in bytes.
      type: int
pki:
  description: The PKI archive (C(pki.tar.gz), mode 0600); same keys as RV(snapshot).
  returned: success, not in check mode
  type: dict
metadata_path:
  description: Path of C(metadata.json) on the host.
  returned: success, not in check mode
  type: str
revision:
  description: etcd revision of the snapshot.
  returned: success, not in check mode
  type: int
etcd_version:
  description: Version of the etcd server the snapshot was taken from.
  returned: success, not in check mode
  type: str
metadata:
  description: The content of C(metadata.json).
  returned: success, not in check mode
  type: dict
  sample:
    format: 1
    name: prod-20261201T120000Z
    created: '2026-12-01T12:00:00Z'
    cluster_name: prod
    kubernetes_version: 1.37.2
    etcd_version: 3.7.0
    node: cp1
    revision: 48213
    total_keys: 1024
    etcd_hash: 3377694077
    files:
      etcd-snapshot.db: {sha256: 5d41402abc4b2a76b9719d911017c592ae2a4e4b1c0e8c3b5b1d2f5a8a9c0e1f, size: 8413216}
      pki.tar.gz: {sha256: 7d793037a0760186574b0282f2f435e7b8f8c4e1b0b1a8c3c2b5d0f2a9b0e1c2, size: 12288}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _etcd as etcd


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest=dict(type='path', default='/var/lib/kubeseed/backup'),
            cluster_name=dict(type='str', required=True),
            kubernetes_version=dict(type='str', required=True),
            endpoint=dict(type='str', default=etcd.LOCAL_ENDPOINT),
            etcd_pki_dir=dict(type='path', default=etcd.ETCD_PKI_DIR),
            pki_dir=dict(type='path', default=etcd.PKI_DIR),
            timeout=dict(type='int', default=300),
            etcdctl_path=dict(type='path', default='etcdctl'),
            etcdutl_path=dict(type='path', default='etcdutl'),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**etcd.snapshot_module(module))


if __name__ == '__main__':
    main()
