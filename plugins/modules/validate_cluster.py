#!/usr/bin/python
# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is implemented as an action plugin (plugins/action/validate_cluster.py); this file holds its documentation.
from __future__ import annotations

DOCUMENTATION = r'''
module: validate_cluster
short_description: Validate a kubeseed inventory and its variables on the controller
version_added: 0.1.0
description:
  - Checks the inventory groups of the control planes, workers and etcd members (default C(control_plane), C(workers)
    and C(etcd)) and every C(kubeseed_*) variable of their
    hosts against the cluster variable contract (the JSON Schema in C(schemas/cluster.schema.json)) before any host is touched.
  - "Reports every violation at once. Each message names the variable path, for example
    C(kubeseed_pod_subnet: '10.244.0.0/33' is not a valid CIDR), and for inventory problems the host and group."
  - Checks the values against each other as well, for example overlapping pod, Service and node networks, an even number
    of stacked-etcd control planes, a host in both C(control_plane) and C(workers), several control planes without
    C(kubeseed_control_plane_endpoint), or an unsupported Kubernetes version.
  - Runs entirely on the controller and never connects to a host.
author:
  - kubeseed maintainers (@kubeseed)
options:
  groups:
    description:
      - The inventory groups of the control planes, the workers and the etcd members, in this order (the
        preflight role passes the variables C(kubeseed_control_plane_group) and C(kubeseed_workers_group)). Messages name the
        groups as given here.
    type: list
    elements: str
    default: [control_plane, workers, etcd]
requirements:
  - jsonschema >= 4.18 on the controller
attributes:
  check_mode:
    support: full
    description: Only reads the inventory; behaves the same in check mode.
  diff_mode:
    support: none
    description: Nothing to show a difference of.
  action:
    support: full
    description: Implemented as an action plugin that runs on the controller.
  async:
    support: none
    description: Runs quickly on the controller.
  become:
    support: none
    description: Never needs privileges.
  connection:
    support: none
    description: Never connects to a host.
  platform:
    support: full
    platforms: all
    description: Runs on the controller only.
notes:
  - The preflight role (kubeseed.cluster.preflight) runs this first in site.yml.
'''

EXAMPLES = r'''
- name: Validate the inventory before anything else
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check every kubeseed_* variable and the inventory groups
      kubeseed.cluster.validate_cluster:
'''

RETURN = r'''
violations:
  description: Every problem found, each starting with the variable path (or C(inventory:)).
  returned: always
  type: list
  elements: str
  sample: ["kubeseed_pod_subnet: '10.244.0.0/33' is not a valid CIDR (e.g. 10.244.0.0/16)"]
hosts_checked:
  description: Number of hosts whose variables were checked.
  returned: always
  type: int
  sample: 3
'''
