#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: etcd_restore
short_description: Stop the control plane, restore an etcd snapshot into this member, start the control plane again
version_added: 0.3.0
description:
  - The three steps of restoring an etcd snapshot on one control plane of a kubeadm cluster with stacked etcd. A restore
    runs each step on B(every) control plane before the next step starts (the kubeseed.cluster.etcd_backup role's
    C(restore) entry point does), so that no restored member ever meets a member that still holds the old state.
  - O(state=stopped) moves the static pod manifests of O(components) from O(manifests_dir) to O(held_dir) and waits until
    the kubelet has stopped their containers (C(crictl ps)). It also checks that etcdutl and crictl are there, because
    stopping is the first step of a restore. It returns this host's etcd member (name, peer URLs, data directory), read from
    the etcd manifest; in check mode it only does that.
  - O(state=restored) checks the sha256 of O(snapshot), then runs C(etcdutl snapshot restore) with the member's name and
    peer URLs, the C(--initial-cluster) of O(members), O(initial_cluster_token), and C(--bump-revision)/C(--mark-compacted)
    (etcd's advice for Kubernetes, so that every watcher relists instead of missing events) into a new directory beside the data
    directory, renames the data directory to C(<data dir>.before-restore-<UTC timestamp>) (never deleted by this module)
    and the new one into its place. It refuses to run while etcd runs on this host. It always reports a change.
  - O(state=started) moves the manifests back (etcd first) and, with O(wait), waits until etcd reports healthy (which
    needs a quorum, so start etcd on every member before waiting) and the API server answers C(/readyz).
  - etcdutl and crictl are looked up with C(get_bin_path); when one is missing the module fails naming what to install.
author:
  - kubeseed maintainers (@kubeseed)
options:
  state:
    description: The step to run on this host.
    type: str
    required: true
    choices: [stopped, restored, started]
  components:
    description:
      - Control-plane static pods to stop or start (the name of their manifest without C(.yaml)). Stopping all four
        makes the controller manager and the scheduler drop the caches they hold of the state being replaced.
    type: list
    elements: str
    default: [kube-apiserver, kube-controller-manager, kube-scheduler, etcd]
  snapshot:
    description: The etcd snapshot on the host (O(state=restored)).
    type: path
  snapshot_sha256:
    description: sha256 the snapshot must have (from the backup's C(metadata.json)); checked before anything is changed.
    type: str
  members:
    description:
      - Every etcd member of the restored cluster, one per control plane, as RV(member) of O(state=stopped) returns them
        (O(state=restored)). This host's member must be among them, with the peer URLs its manifest advertises.
    type: list
    elements: dict
  initial_cluster_token:
    description: Token of the new etcd cluster; the same on every member, new for each restore (O(state=restored)).
    type: str
  bump_revision:
    description: How far C(--bump-revision) moves the revision (the same on every member); 0 restores without bumping.
    type: int
    default: 1000000000
  wait:
    description: With O(state=started), wait until etcd is healthy and the API server ready (whichever of them O(components) names).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the containers to stop (O(state=stopped)) or the components to answer (O(state=started)).
    type: int
    default: 300
  manifests_dir:
    description: The kubelet's static pod directory.
    type: path
    default: /etc/kubernetes/manifests
  held_dir:
    description: Where the manifests of stopped components are kept (outside O(manifests_dir)).
    type: path
    default: /etc/kubernetes/manifests-stopped-by-kubeseed
  endpoint:
    description: Client URL of this host's etcd member, for the health check (O(state=started)).
    type: str
    default: https://127.0.0.1:2379
  etcd_pki_dir:
    description: Directory with kubeadm's etcd C(ca.crt) and health-check client certificate (for the health check).
    type: path
    default: /etc/kubernetes/pki/etcd
  pki_dir:
    description: Directory with the cluster C(ca.crt) (for the API server check).
    type: path
    default: /etc/kubernetes/pki
  etcdutl_path:
    description: etcdutl binary, a name or a path (looked up in C(/usr/local/bin), C(/usr/bin) and E(PATH)).
    type: path
    default: etcdutl
  crictl_path:
    description: crictl binary, a name or a path (looked up in C(/usr/local/bin), C(/usr/bin) and E(PATH)).
    type: path
    default: crictl
extends_documentation_fragment:
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description:
      - Checks what a run needs (tools, manifests, the member, the snapshot's sha256 when it is on the host) and reports
        what it would do; stops, restores and starts nothing, and does not wait.
  diff_mode:
    support: none
    description: Moves files and directories; nothing to show as a diff.
  platform:
    support: full
    platforms: posix
    description: Linux control-plane nodes of a kubeadm cluster with stacked etcd.
seealso:
  - module: kubeseed.cluster.etcd_snapshot
  - module: kubeseed.cluster.etcd_backups
'''

EXAMPLES = r'''
# On every control plane (one play, any_errors_fatal), each task before the next:
- name: Stop the control plane
  kubeseed.cluster.etcd_restore:
    state: stopped
  register: stopped

- name: Restore the snapshot into this member
  kubeseed.cluster.etcd_restore:
    state: restored
    snapshot: /var/lib/kubeseed/restore/etcd-snapshot.db
    snapshot_sha256: "{{ backup.snapshot.sha256 }}"
    members: "{{ ansible_play_hosts_all | map('extract', hostvars, ['stopped', 'member']) | list }}"
    initial_cluster_token: prod-restore-20261201T120000Z

- name: Start etcd everywhere (it needs a quorum before it is healthy)
  kubeseed.cluster.etcd_restore:
    state: started
    components: [etcd]
    wait: false

- name: Wait for etcd, then start the rest
  kubeseed.cluster.etcd_restore:
    state: started
'''

RETURN = r'''
member:
  description: This host's etcd member, from its static pod manifest.
  returned: always
  type: dict
  contains:
    name:
      description: Member name (C(--name)).
      type: str
    peer_urls:
      description: Peer URLs it advertises (C(--initial-advertise-peer-urls)).
      type: list
      elements: str
    data_dir:
      description: Data directory (C(--data-dir)).
      type: str
    version:
      description: etcd version of its image (empty when the image tag does not say).
      type: str
  sample: {name: cp1, peer_urls: ['https://10.0.0.11:2380'], data_dir: /var/lib/etcd, version: 3.7.0}
moved:
  description: Manifests moved by this run (their new paths), O(state=stopped) and O(state=started).
  returned: with state stopped or started
  type: list
  elements: str
initial_cluster:
  description: The C(--initial-cluster) of the restore.
  returned: with state restored
  type: str
  sample: cp1=https://10.0.0.11:2380,cp2=https://10.0.0.12:2380,cp3=https://10.0.0.13:2380
data_dir:
  description: The data directory now holding the restored member.
  returned: with state restored
  type: str
previous_data_dir:
  description: Where the data directory as it was before the restore was renamed to (null when there was none).
  returned: with state restored, not in check mode
  type: str
  sample: /var/lib/etcd.before-restore-20261201T121500Z
stop_seconds:
  description: Seconds until the containers were gone.
  returned: with state stopped, not in check mode
  type: float
etcd_seconds:
  description: Seconds until etcd was healthy.
  returned: with state started, wait and etcd in components, not in check mode
  type: float
apiserver_seconds:
  description: Seconds until the API server answered.
  returned: with state started, wait and kube-apiserver in components, not in check mode
  type: float
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils import _etcd as etcd


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', required=True, choices=['stopped', 'restored', 'started']),
            components=dict(type='list', elements='str', default=list(etcd.CONTROL_PLANE_PODS)),
            snapshot=dict(type='path'),
            snapshot_sha256=dict(type='str'),
            members=dict(type='list', elements='dict'),
            initial_cluster_token=dict(type='str', no_log=False),
            bump_revision=dict(type='int', default=etcd.BUMP_REVISION),
            wait=dict(type='bool', default=True),
            timeout=dict(type='int', default=300),
            manifests_dir=dict(type='path', default=etcd.MANIFESTS_DIR),
            held_dir=dict(type='path', default=etcd.HELD_DIR),
            endpoint=dict(type='str', default=etcd.LOCAL_ENDPOINT),
            etcd_pki_dir=dict(type='path', default=etcd.ETCD_PKI_DIR),
            pki_dir=dict(type='path', default=etcd.PKI_DIR),
            etcdutl_path=dict(type='path', default='etcdutl'),
            crictl_path=dict(type='path', default='crictl'),
        ),
        required_if=[('state', 'restored', ('snapshot', 'snapshot_sha256', 'members', 'initial_cluster_token'))],
        supports_check_mode=True,
    )
    module.exit_json(**etcd.restore_module(module))


if __name__ == '__main__':
    main()
