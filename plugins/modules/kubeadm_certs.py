#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: kubeadm_certs
short_description: Report the expiry of a control plane's kubeadm certificates, renew those due and restart the static pods
version_added: 0.3.0
description:
  - Runs on a kubeadm control plane. Reads the expiry of every certificate kubeadm manages (the PKI in O(cert_dir) and the
    client certificates embedded in C(/etc/kubernetes/admin.conf), C(super-admin.conf), C(controller-manager.conf) and
    C(scheduler.conf)) and of the certificate authorities, with C(kubeadm certs check-expiration --output json).
  - Renews with C(kubeadm certs renew <name>) each certificate with fewer than O(renew_days) days left, or every renewable
    one with O(renew=all). C(changed) comes from comparing each certificate's expiry before and after. A certificate
    signed by an external CA (no CA key on the node) or missing (a joined control plane has no C(super-admin.conf)) is
    reported, never renewed.
  - CAs are never renewed (kubeadm does not); one with fewer than O(renew_days) days left is a warning.
  - "A component loads its certificates when it starts, so the static pods whose certificates changed restart afterwards:
    etcd (C(etcd-server), C(etcd-peer)), kube-apiserver (C(apiserver), C(apiserver-etcd-client), C(apiserver-kubelet-client),
    C(front-proxy-client)), kube-controller-manager (C(controller-manager.conf)) and kube-scheduler (C(scheduler.conf)), in this
    order. Each running container is stopped with C(crictl stop) and the kubelet starts a new one from the unchanged
    manifest; the module waits until it runs, then until this node's API server answers C(/readyz)."
  - The restart decision compares each running container's creation time with the time its certificate files were
    written, so a static pod still running with older certificates (a run that failed after renewing, a renewal by
    hand) is restarted by the next run, and a second run restarts nothing.
  - "Every real run ends by waiting until this node's API server answers C(/readyz) (one request when it is ready), even when
    nothing restarted: run the control planes one at a time (C(serial: 1), as the playbook kubeseed.cluster.certificates
    does) and a node whose API server is not ready stops the play before the next node restarts anything. Check mode looks
    once and warns."
  - The kubelet's own client certificate (C(kubelet.conf)) is not handled; the kubelet rotates it itself.
author:
  - kubeseed maintainers (@kubeseed)
options:
  renew_days:
    description: Renew the certificates with fewer days left than this (and warn about CAs with fewer). C(0) only reports.
    type: int
    default: 30
  renew:
    description:
      - C(all) renews every renewable certificate whatever its expiry (and so reports C(changed) on every run); the empty
        string renews only those due by O(renew_days).
    type: str
    choices: ['', all]
    default: ''
  cert_dir:
    description:
      - The certificate directory of the control plane (kubeadm's C(--cert-dir), ClusterConfiguration C(certificatesDir)).
        The kubeconfig files are always read in C(/etc/kubernetes), as kubeadm does.
    type: path
    default: /etc/kubernetes/pki
  wait_timeout:
    description:
      - Seconds to wait for each restarted static pod to run again, and then for this node's API server to answer
        C(/readyz). On timeout the module fails, naming the node, the component and what to look at.
      - Must be 1 or more; O(renew_days) must be 0 or more.
    type: int
    default: 300
notes:
  - Needs C(kubeadm), C(kubectl) (with C(/etc/kubernetes/admin.conf)) and C(crictl) (with containerd's socket). When something
    is to be renewed or restarted, a missing C(crictl) or C(kubectl) fails the module before anything is renewed; otherwise
    it is a warning.
  - No key material is read or returned; the result holds names, dates and component names only.
seealso:
  - name: Certificate management with kubeadm
    description: What kubeadm renews and how.
    link: https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-certs/
extends_documentation_fragment:
  - kubeseed.cluster.kubeadm
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Reads the expiry and the running containers, and predicts the renewals and restarts without doing them.
  diff_mode:
    support: full
    description: The expiry of each certificate before and after (in check mode, which ones would be renewed).
  platform:
    support: full
    platforms: posix
    description: Linux kubeadm control-plane nodes with containerd.
'''

EXAMPLES = r'''
- name: Report the certificates and renew those with fewer than 30 days left
  kubeseed.cluster.kubeadm_certs:
    renew_days: 30
  register: certs

- name: Only report (renews nothing)
  kubeseed.cluster.kubeadm_certs:
    renew_days: 0
  check_mode: true

- name: Renew every certificate now
  kubeseed.cluster.kubeadm_certs:
    renew: all
'''

RETURN = r'''
certificates:
  description: Every certificate kubeadm manages on this node.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: kubeadm's name for it (what C(kubeadm certs renew) takes).
      type: str
      sample: apiserver
    expires:
      description: Expiry (UTC, ISO 8601) before this run; null when missing.
      type: str
      sample: '2027-12-01T19:32:37Z'
    days_left:
      description: Whole days left before this run (once expired, minus the whole days since); null when missing.
      type: int
      sample: 364
    residual:
      description: The time left in short, like kubeadm's table (C(364d), C(9y), C(20h), C(expired), C(missing)).
      type: str
    ca:
      description: Name of the CA that signed it.
      type: str
      sample: ca
    externally_managed:
      description: Signed by an external CA (no CA key on the node); kubeadm cannot renew it.
      type: bool
    missing:
      description: Not on this node.
      type: bool
    renew:
      description: Due for renewal (by O(renew_days) or O(renew=all)).
      type: bool
    expires_after:
      description: Expiry after the renewal.
      type: str
      returned: when it was renewed by this run (not in check mode)
    days_left_after:
      description: Whole days left after the renewal.
      type: int
      returned: when it was renewed by this run (not in check mode)
certificate_authorities:
  description: The CAs (never renewed), with name, expires, days_left, residual, externally_managed and missing as above.
  returned: always
  type: list
  elements: dict
renewed:
  description: Names of the certificates renewed (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [apiserver, admin.conf]
restarted:
  description: Static pods restarted (in check mode, that would be), in order.
  returned: always
  type: list
  elements: str
  sample: [etcd, kube-apiserver, kube-controller-manager, kube-scheduler]
summary:
  description: One line per certificate and CA, and the restarted static pods, for a report.
  returned: success
  type: list
  elements: str
  sample: ['apiserver: 2027-12-01T19:32:37Z, 364 days left (not renewed)']
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_certs import CERT_DIR, run_module
from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import KUBEADM_ARG_SPEC


def main():
    module = AnsibleModule(
        argument_spec=dict(
            renew_days=dict(type='int', default=30),
            renew=dict(type='str', default='', choices=['', 'all']),
            cert_dir=dict(type='path', default=CERT_DIR),
            wait_timeout=dict(type='int', default=300),
            **KUBEADM_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    module.exit_json(**run_module(module))


if __name__ == '__main__':
    main()
