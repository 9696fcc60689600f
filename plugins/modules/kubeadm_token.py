#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: kubeadm_token
short_description: Create a short-lived kubeadm bootstrap token (and a certificate key for control-plane joins)
version_added: 0.1.0
description:
  - Runs on an initialised control-plane node. Creates a bootstrap token with a short TTL for C(kubeadm join) and, with
    O(upload_certs), uploads the control-plane certificates and returns the key that decrypts them.
  - The token and the key are secrets. Use C(no_log) on the task that registers the result, and pass them to
    M(kubeseed.cluster.kubeadm_join), whose options for them are C(no_log). The module warns when the task has no C(no_log).
  - They appear only in RV(token) and RV(certificate_key); never in C(msg), nor in a failure (kubeadm output is redacted).
  - The CA certificate is read before the token is created; a token whose certificate upload failed is deleted again.
  - Every call creates a new token, so call it only when a node needs to join (the roles do).
author:
  - kubeseed maintainers (@kubeseed)
options:
  ttl:
    description: Lifetime of the token, for example C(15m).
    type: str
    default: 15m
  description:
    description: Description stored with the token.
    type: str
    default: created by kubeseed for joining nodes
  upload_certs:
    description: Also upload the control-plane certificates (for control-plane joins) and return the certificate key.
    type: bool
    default: false
extends_documentation_fragment:
  - kubeseed.cluster.kubeadm
  - kubeseed.cluster.attributes
  - kubeseed.cluster.attributes.platform
attributes:
  check_mode:
    support: full
    description: Reports that a token would be created; creates none.
  diff_mode:
    support: none
    description: A token is a secret; nothing is shown.
  platform:
    support: full
    platforms: posix
    description: Linux control-plane nodes.
'''

EXAMPLES = r'''
- name: Create a join token
  kubeseed.cluster.kubeadm_token:
    ttl: 15m
    upload_certs: true
  register: join_secret
  no_log: true
'''

RETURN = r'''
token:
  description: The bootstrap token (a secret).
  returned: success, not in check mode
  type: str
certificate_key:
  description: Key of the uploaded control-plane certificates (a secret).
  returned: with upload_certs, not in check mode
  type: str
ca_cert_hash:
  description: Discovery hash of the cluster CA.
  returned: success, not in check mode
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kubeseed.cluster.plugins.module_utils._kubeadm_ops import KUBEADM_ARG_SPEC, token


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ttl=dict(type='str', default='15m'),
            description=dict(type='str', default='created by kubeseed for joining nodes'),
            upload_certs=dict(type='bool', default=False),
            **KUBEADM_ARG_SPEC,
        ),
        supports_check_mode=True,
    )
    module.exit_json(**token(module))


if __name__ == '__main__':
    main()
