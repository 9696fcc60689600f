# Copyright: kubeseed contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The variable contract of the cluster half, as a JSON Schema (draft 2020-12).

This dict is the single source of truth: `make schemas` writes it to
schemas/cluster.schema.json for editors, the preflight validates inventories against it,
and a unit test checks that every role default equals the default declared here.

Keywords starting with ``x-`` are ours: ``x-scope: host`` marks a variable that may
differ between hosts (every other one is cluster-wide), ``x-hint`` says how to fix a
value that does not match its pattern.
"""
from __future__ import annotations

SUPPORTED_MINORS = (34, 35, 36, 37)
DEFAULT_KUBERNETES_VERSION = '1.37.2'

_DNS_LABEL = r'^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'
# what Ansible accepts as a group name without a warning
_GROUP_NAME = r'^[A-Za-z_][A-Za-z0-9_]*$'
_DNS_SUBDOMAIN = r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
_HOST = r'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'
# host, host:port, IPv4[:port] or [IPv6][:port] (kubeadm controlPlaneEndpoint); port ranges and IP validity are checked in Python.
ENDPOINT = r'^$|^(' + _HOST + r'|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$'
# A certificate name: a DNS name (wildcard only as the whole leftmost label) or an IP address.
SAN = r'^(\*\.)?' + _HOST + r'$|^[0-9A-Fa-f:.]+$'
# kubeadm imageRepository: registry host[:port] and an optional lowercase path (the distribution reference grammar).
_IMAGE_COMPONENT = r'[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*'
IMAGE_REPOSITORY = (r'^(([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)(\.([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?))*(:[0-9]+)?'
                    r'|\[[0-9A-Fa-f:]+\](:[0-9]+)?)(/' + _IMAGE_COMPONENT + r')*$')
# Kubernetes label key ([DNS prefix/]name, name at most 63) and value (at most 63, may be empty).
LABEL_KEY = r'^(' + _HOST + r'/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$'
LABEL_VALUE = r'^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$'
# Node taint effects the API server accepts.
TAINT_EFFECTS = ('NoSchedule', 'PreferNoSchedule', 'NoExecute')


def _workaround(description: str) -> dict:
    return {'type': 'boolean', 'default': False, 'description': description}


# One registry's credentials (kubeseed_containerd_registry_credentials, kubeseed_microservices_registry_credentials).
REGISTRY_CREDENTIALS_ENTRY = {'type': 'object', 'required': ['username', 'password'], 'additionalProperties': False,
                              'properties': {'username': {'type': 'string', 'minLength': 1},
                                             'password': {'type': 'string', 'minLength': 1}}}

CLUSTER_SCHEMA: dict = {
    '$schema': 'https://json-schema.org/draft/2020-12/schema',
    '$id': 'https://kubeseed.invalid/schemas/cluster.schema.json',
    'title': 'kubeseed.cluster: cluster variables',
    'description': 'Inventory variables (group_vars/host_vars) that describe a kubeseed cluster. '
                   'Every variable is optional and has the default shown.',
    'type': 'object',
    # Other inventory variables (ansible_user, ...) are not ours; an unknown kubeseed_* one is a typo.
    'patternProperties': {'^(?!kubeseed_)': {}},
    'additionalProperties': False,
    'properties': {
        # ---- Kubernetes and cluster identity -------------------------------------------------
        'kubeseed_kubernetes_version': {
            'type': 'string', 'default': DEFAULT_KUBERNETES_VERSION,
            'pattern': r'^1\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$',
            'x-hint': 'use the form 1.37.2 (major.minor.patch, no leading v)',
            'description': 'Exact Kubernetes version installed on every node (kubeadm, kubelet, kubectl and the control-plane images).',
        },
        'kubeseed_cluster_name': {
            'type': 'string', 'default': 'kubeseed', 'pattern': _DNS_LABEL,
            'x-hint': 'use lowercase letters, digits and dashes, at most 63 characters',
            'description': 'Cluster name (kubeadm clusterName, kubeconfig cluster and context name).',
        },
        'kubeseed_cluster_domain': {
            'type': 'string', 'default': 'cluster.local', 'pattern': _DNS_SUBDOMAIN, 'maxLength': 253,
            'x-hint': 'use a lowercase DNS domain such as cluster.local',
            'description': 'DNS domain of Services (kubelet clusterDomain, kubeadm networking.dnsDomain).',
        },
        'kubeseed_pod_subnet': {
            'type': 'string', 'format': 'cidr', 'default': '10.244.0.0/16',
            'description': 'Pod network; must not overlap the Service network or the nodes\' networks.',
        },
        'kubeseed_service_subnet': {
            'type': 'string', 'format': 'cidr', 'default': '10.96.0.0/12',
            'description': 'Service (ClusterIP) network, of the pod network\'s IP family; must not overlap the pod network or the nodes\' '
                           'networks. kube-apiserver accepts at most 20 host bits: /12 or longer for IPv4, /108 or longer for IPv6.',
        },
        'kubeseed_node_cidr_mask_size': {
            'type': 'integer', 'minimum': 8, 'maximum': 128, 'default': 24,
            'description': 'Prefix length of the pod range given to each node; must be longer than the pod subnet\'s and leave a range '
                           'for every node. IPv4: at most 30. IPv6 pod subnet: at most 16 bits longer than its prefix (e.g. 64 for a /56 '
                           'or /48); the default 24 is for IPv4.',
        },
        'kubeseed_node_subnets': {
            'type': 'array', 'items': {'type': 'string', 'format': 'cidr'}, 'default': [],
            'description': 'Networks the nodes live on, checked against pod and Service networks. '
                           'Empty: the hosts\' ansible_host addresses are checked instead.',
        },
        # ---- Control plane and HA --------------------------------------------------------------
        'kubeseed_control_plane_endpoint': {
            'type': 'string', 'default': '',
            'pattern': ENDPOINT,
            'x-hint': 'use host or host:port of a load balancer or virtual IP in front of all control planes, e.g. k8s-api.example.com:6443',
            'description': 'Stable address of the API server (kubeadm controlPlaneEndpoint): host or host:port with a lowercase DNS name, '
                           'an IPv4 address or an IPv6 address in brackets ([fd00::10]:6443); no scheme, no path, port 1 to 65535. '
                           'Must lie outside the pod and Service networks. With more than one control plane, this or '
                           'kubeseed_control_plane_vip is required.',
        },
        'kubeseed_control_plane_vip': {
            'type': 'string', 'default': '', 'format': 'optional-ip',
            'description': 'A free IPv4 address on the control planes\' network that kubeseed makes the API server endpoint: '
                           'keepalived on every control plane holds it on one whose API server answers (role ha_endpoint, '
                           'docs/ha.md). Used as the endpoint when kubeseed_control_plane_endpoint is empty (which may instead be '
                           'a DNS name of this address). Must not be a host\'s address nor lie in the pod or Service network.',
        },
        'kubeseed_control_plane_vip_interface': {
            'type': 'string', 'default': '', 'pattern': r'^$|^[A-Za-z0-9][-A-Za-z0-9_.]{0,14}$',
            'x-hint': 'use a network interface name of at most 15 characters, e.g. eth0, or leave it empty',
            'description': 'The control planes\' interface for the virtual IP and the VRRP adverts; empty: the interface that '
                           'carries each node\'s address.',
        },
        'kubeseed_control_plane_vip_router_id': {
            'type': 'integer', 'minimum': 1, 'maximum': 255, 'default': 51,
            'description': 'VRRP virtual router id of the virtual IP; it must be unique among the VRRP users of the network.',
        },
        'kubeseed_apiserver_port': {
            'type': 'integer', 'minimum': 1, 'maximum': 65535, 'default': 6443,
            'description': 'Port the API server listens on each control-plane node.',
        },
        'kubeseed_apiserver_cert_extra_sans': {
            'type': 'array', 'default': [],
            'items': {'type': 'string', 'minLength': 1, 'pattern': SAN,
                      'x-hint': 'use a lowercase DNS name (a wildcard only as *.example.com) or an IP address, without scheme or port'},
            'description': 'Extra names and addresses in the API server certificate: lowercase DNS names (a wildcard only as the '
                           'leftmost label, *.example.com) or IP addresses; no scheme, no port. A change on a running cluster signs '
                           'a new serving certificate on each control plane, one at a time (like kubeseed_apiserver_extra_args).',
        },
        'kubeseed_apiserver_extra_args': {
            'type': 'object', 'default': {},
            'propertyNames': {'pattern': r'^[a-z0-9][a-z0-9-]*$',
                              'x-hint': 'use the kube-apiserver flag name without the leading --, e.g. audit-log-maxage'},
            'additionalProperties': {'type': ['string', 'integer', 'number', 'boolean'],
                                     'x-hint': 'use a string, number or boolean (several values: one comma-separated string)'},
            'description': 'Extra kube-apiserver flags, names without the leading --, e.g. {audit-log-maxage: 30, profiling: false}. '
                           'Applied at kubeadm init and, on a running cluster, one control plane at a time: kubeadm renders the '
                           'manifest again, the API server is restarted and waited for (one that does not come back healthy gets its '
                           'previous manifest back and the run stops), then the ClusterConfiguration in kube-system/kubeadm-config '
                           'records them for joins and upgrades. A flag removed from here is removed from the API server. Flags '
                           'kubeadm or other variables set are refused: advertise-address, secure-port, service-cluster-ip-range, '
                           'the etcd and certificate files, service-account-issuer, enable-bootstrap-token-auth.',
        },
        'kubeseed_control_plane_schedulable': {
            'type': 'boolean', 'default': False,
            'description': 'Remove the control-plane taint so ordinary pods may run on control-plane nodes.',
        },
        'kubeseed_etcd_mode': {
            'type': 'string', 'enum': ['stacked'], 'default': 'stacked',
            'description': 'stacked: etcd runs on every control-plane node (their count must be odd). '
                           'External etcd (an etcd group of its own) is not supported yet.',
        },
        # ---- Inventory groups ------------------------------------------------------------------
        'kubeseed_control_plane_group': {
            'type': 'string', 'default': 'control_plane', 'pattern': _GROUP_NAME,
            'x-hint': 'use an inventory group name: letters, digits and underscores, not starting with a digit',
            'description': 'Inventory group of the control planes (its first host is initialised). Set it in group_vars/all or '
                           'with -e: the playbooks read it on the controller and run their plays on its hosts.',
        },
        'kubeseed_workers_group': {
            'type': 'string', 'default': 'workers', 'pattern': _GROUP_NAME,
            'x-hint': 'use an inventory group name: letters, digits and underscores, not starting with a digit',
            'description': 'Inventory group of the workers. Set it in group_vars/all or with -e, like kubeseed_control_plane_group.',
        },
        # ---- CNI -------------------------------------------------------------------------------
        'kubeseed_cni_plugin': {
            'type': 'string', 'enum': ['bridge', 'none'], 'default': 'bridge',
            'description': 'bridge: a Linux bridge per node (CNI bridge + host-local IPAM on the node\'s pod range) with routes to every '
                           'other node\'s pod range; the nodes must share one L2 network. none: bring your own CNI.',
        },
        'kubeseed_cni_mtu': {
            'type': 'integer', 'minimum': 0, 'maximum': 9216, 'default': 0,
            'description': 'MTU of pod interfaces (576 or more); 0 derives it from the node interface.',
        },
        # ---- Container runtime -----------------------------------------------------------------
        'kubeseed_container_runtime': {
            'type': 'string', 'enum': ['containerd'], 'default': 'containerd',
            'description': 'Container runtime installed on every node.',
        },
        'kubeseed_containerd_cgroup_driver': {
            'type': 'string', 'enum': ['systemd', 'cgroupfs'], 'default': 'systemd',
            'description': 'cgroup driver of containerd and the kubelet (they must match). systemd is right for systemd hosts.',
        },
        'kubeseed_containerd_source': {
            'type': 'string', 'enum': ['auto', 'bundle', 'package'], 'default': 'auto',
            'x-hint': 'use auto (the bundle offline, the distribution online), bundle or package',
            'description': 'Where containerd and runc come from: bundle (the offline bundle\'s own builds, containerd 2.x), package '
                           '(the distribution\'s package, checked against the minimum the Kubernetes version needs) or auto '
                           '(bundle with kubeseed_package_source offline, package online).',
        },
        'kubeseed_containerd_registry_mirrors': {
            'type': 'object', 'default': {},
            'propertyNames': {'pattern': r'^[A-Za-z0-9.-]+(:[0-9]+)?$'},
            'additionalProperties': {'type': 'array', 'minItems': 1, 'items': {'type': 'string', 'format': 'url'}},
            'description': 'Registry host -> list of mirror URLs tried in order, e.g. {docker.io: [https://mirror.example.com]}.',
        },
        'kubeseed_containerd_registry_ca': {
            'type': 'object', 'default': {},
            'propertyNames': {'pattern': r'^[A-Za-z0-9.-]+(:[0-9]+)?$'},
            # the PEM text itself is checked by _cluster_validation (a pattern refuses the newlines a PEM has)
            'additionalProperties': {'type': 'string', 'minLength': 1},
            'description': 'Registry host[:port] -> PEM of the CA that signed its certificate (a private registry, or a mirror '
                           'named in kubeseed_containerd_registry_mirrors): containerd trusts it for that host only '
                           '(/etc/containerd/certs.d/<host>/ca.crt).',
        },
        'kubeseed_containerd_registry_credentials': {
            'type': 'object', 'default': {},
            'propertyNames': {'pattern': r'^[A-Za-z0-9.-]+(:[0-9]+)?$'},
            'additionalProperties': REGISTRY_CREDENTIALS_ENTRY,
            'description': 'Registry host[:port] -> {username, password}: containerd on every node sends them (HTTP basic) to that '
                           'host, a private registry or a mirror named in kubeseed_containerd_registry_mirrors, for every pull, '
                           'the kubelet\'s included (the control-plane images, add-ons, a registry.k8s.io mirror). Written only into '
                           'that registry\'s hosts.toml (0600, by a call with no_log), never shown: not in messages, diffs or -vvv '
                           '(keep the password in Ansible Vault). Pods of a microservices set pull with their own '
                           'kubeseed_microservices_registry_credentials.',
        },
        'kubeseed_image_repository': {
            'type': 'string', 'default': 'registry.k8s.io', 'minLength': 1, 'pattern': IMAGE_REPOSITORY,
            'x-hint': 'use registry[:port][/path] without scheme or tag, e.g. registry.example.com:5000/k8s',
            'description': 'Registry of the control-plane images (kubeadm imageRepository): registry host[:port] and an optional '
                           'lowercase path, without scheme, tag or digest, e.g. registry.example.com:5000/k8s.',
        },
        # ---- Packages ----------------------------------------------------------------------------
        'kubeseed_package_source': {
            'type': 'string', 'enum': ['online', 'offline'], 'default': 'online',
            'description': 'online: packages from the Kubernetes package repositories (pkgs.k8s.io or a mirror). '
                           'offline: everything from a kubeseed offline bundle (air-gapped installs).',
        },
        'kubeseed_online_repository_base_url': {
            'type': 'string', 'format': 'url', 'default': 'https://pkgs.k8s.io/core:/stable:',
            'description': 'Base of the Kubernetes package repositories (pkgs.k8s.io or a mirror of it laid out the same); '
                           '/v<minor>/deb/ is appended.',
        },
        'kubeseed_online_repository_ca': {
            'type': 'string', 'default': '',
            # the PEM text is checked by _cluster_validation (a pattern refuses the newlines a PEM has)
            'description': 'PEM of the CA that signed the certificate of the repository server at '
                           'kubeseed_online_repository_base_url (a private mirror); apt trusts it for that host only. Empty: '
                           'the hosts\' own CAs.',
        },
        'kubeseed_online_repository_key': {
            'type': 'string', 'default': '',
            'description': 'ASCII-armored OpenPGP public key that signs the repository (-----BEGIN PGP PUBLIC KEY BLOCK-----): '
                           'pinned for that repository only. Empty: <repository>/Release.key is fetched once, over HTTPS.',
        },
        'kubeseed_offline_bundle_url': {
            'type': 'string', 'default': '', 'format': 'optional-url',
            'description': 'http(s):// or file:// URL of an offline bundle directory (the one holding manifest.json). '
                           'Required when kubeseed_package_source is offline.',
        },
        # ---- Proxy -------------------------------------------------------------------------------
        'kubeseed_http_proxy': {'type': 'string', 'default': '', 'format': 'optional-url',
                                'description': 'HTTP proxy for the container runtime and package managers.'},
        'kubeseed_https_proxy': {'type': 'string', 'default': '', 'format': 'optional-url',
                                 'description': 'HTTPS proxy for the container runtime and package managers.'},
        'kubeseed_no_proxy': {
            'type': 'array', 'default': [],
            'items': {'type': 'string', 'minLength': 1, 'pattern': r'^[^\s,]+$',
                      'x-hint': 'one host, domain (.example.com) or network per item, without spaces or commas'},
            'description': 'Hosts and networks reached without the proxy; the pod and Service networks, the cluster '
                           'domain and the node addresses are always added.',
        },
        'kubeseed_kubeconfig_dest': {
            'type': 'string', 'default': '', 'pattern': r'^[^\x00-\x1f]*$', 'x-hint': 'use a file path on the controller',
            'description': 'Where the admin kubeconfig is written on the controller (mode 0600); empty: '
                           '~/.kube/kubeseed-<cluster name>.conf of the user running ansible-playbook.',
        },
        'kubeseed_kubelet_config': {
            'type': 'object', 'default': {},
            'propertyNames': {'pattern': r'^[a-z][A-Za-z0-9]*$',
                              'x-hint': 'use a KubeletConfiguration field name in camelCase, e.g. maxPods'},
            'description': 'Further KubeletConfiguration fields for every node, e.g. {maxPods: 50, serializeImagePulls: false}. '
                           'Applied at kubeadm init and, on a running cluster, kept in the ConfigMap kube-system/kubelet-config '
                           'and in each node\'s /var/lib/kubelet/config.yaml, one kubelet restarted and waited for at a time (a '
                           'kubelet that does not come back healthy gets its previous file back and the run stops). A field '
                           'removed from here is removed from the cluster. cgroupDriver, failCgroupV1, clusterDomain, clusterDNS, '
                           'staticPodPath, authentication, authorization, apiVersion and kind are refused: other variables or '
                           'kubeadm set them.',
        },
        'kubeseed_kubelet_serving_certificates': {
            'type': 'boolean', 'default': True,
            'description': 'The kubelets serve their API (logs, exec, port-forward, metrics) with certificates signed by the '
                           'cluster CA (serverTLSBootstrap) instead of self-signed ones, so that clients such as metrics-server '
                           'verify them. The first control plane runs an approver (Deployment kube-system/kubelet-serving-'
                           'approver, built into the bundle) that approves a request only when the node itself made it and it '
                           'names only the node\'s own addresses; others stay pending and are logged. Needed by the '
                           'metrics-server add-on. Turned off on a running cluster, the kubelets go back to self-signed '
                           'certificates at their next restart (the approver stays).',
        },
        'kubeseed_addons': {
            'type': 'object', 'default': {'metrics_server': {}, 'local_path_storage': {}},
            'additionalProperties': False,
            'properties': {
                'local_path_storage': {
                    'type': 'object', 'additionalProperties': False,
                    'description': 'local-path-provisioner (from the bundle): the StorageClass local-path, whose '
                                   'PersistentVolumeClaims get a directory on the node their pod is scheduled to (the pod '
                                   'stays on that node from then on). Deleting a claim deletes its directory and data '
                                   '(reclaimPolicy Delete). No size limit: a volume takes what the node\'s disk has.',
                    'properties': {
                        'path': {
                            'type': 'string', 'default': '/opt/local-path-provisioner',
                            'pattern': '^(/[A-Za-z0-9_][A-Za-z0-9._+-]*)+$',
                            'x-hint': 'use an absolute directory below /, such as /var/lib/kubeseed-volumes (letters, digits, '
                                      '_ . + - in each part, no . or .. parts)',
                            'description': 'Directory on every node under which the volumes are made (absolute, no . or '
                                           '.. parts, not /). Changing it affects new volumes only.',
                        },
                        'default_class': {
                            'type': 'boolean', 'default': True,
                            'description': 'Make local-path the default StorageClass (claims that name none use it).',
                        },
                    },
                },
                'metrics_server': {
                    'type': 'object', 'additionalProperties': False,
                    'description': 'metrics-server (from the bundle): the resource metrics API, so that kubectl top works '
                                   'and a service\'s autoscaling (HorizontalPodAutoscaler) scales. It verifies the kubelets\' '
                                   'serving certificates: needs kubeseed_kubelet_serving_certificates.',
                    'properties': {
                        'metric_resolution_seconds': {
                            'type': 'integer', 'minimum': 15, 'maximum': 300, 'default': 15,
                            'description': 'How often metrics-server scrapes the kubelets (its --metric-resolution). At '
                                           'least 15: metrics-server refuses to start unless it is longer than its '
                                           'kubelet request timeout (10 s).',
                        },
                    },
                },
            },
            'description': 'The cluster add-ons to run, each with its settings ({} for the defaults), installed after the '
                           'cluster by playbooks/addons.yml (site.yml runs it) with the microservices engine: server-side '
                           'apply, waited for, check mode and diff, each add-on its own set (addon-<name>). An add-on left '
                           'out of this mapping is removed from the cluster (every object of its set); {} removes them all.',
        },
        'kubeseed_kubelet_serving_approver_image': {
            'type': 'string', 'minLength': 1, 'default': 'kubeseed.local/kubelet-serving-approver:0.1.0',
            'description': 'Image of the serving-certificate approver. The offline bundle holds it; an online install needs '
                           'it in a registry its nodes can pull from.',
        },
        # ---- Per-host ----------------------------------------------------------------------------
        'kubeseed_node_ip': {
            'type': 'string', 'default': '', 'format': 'optional-ip', 'x-scope': 'host',
            'description': 'Address the kubelet and API server advertise for this node; empty: the default route\'s address.',
        },
        'kubeseed_node_labels': {
            'type': 'object', 'default': {}, 'x-scope': 'host',
            'propertyNames': {'pattern': LABEL_KEY, 'x-hint': 'use an optional DNS prefix and /, then at most 63 letters, digits, -, _ or .'},
            'additionalProperties': {'type': 'string', 'pattern': LABEL_VALUE,
                                     'x-hint': 'label values have at most 63 letters, digits, -, _ or . (or are empty)'},
            'description': 'Labels kubeseed sets on this node, on join and on every run. Keys: an optional lowercase DNS prefix and /, '
                           'then a name of at most 63 letters, digits, -, _ and . (starting and ending with a letter or digit); values: '
                           'the same, or empty. A label kubeseed added or changed is recorded in the node annotation kubeseed.io/labels '
                           'and removed from the node when it is removed from here; labels set by others (the kubelet, kubeadm, '
                           'kubectl) are never removed.',
        },
        'kubeseed_node_taints': {
            'type': 'array', 'default': [], 'x-scope': 'host',
            'items': {
                'type': 'object', 'required': ['key', 'effect'], 'additionalProperties': False,
                'properties': {
                    'key': {'type': 'string', 'pattern': LABEL_KEY,
                            'x-hint': 'use an optional DNS prefix and /, then at most 63 letters, digits, -, _ or .'},
                    'value': {'type': 'string', 'pattern': LABEL_VALUE,
                              'x-hint': 'taint values have at most 63 letters, digits, -, _ or . (or are empty)'},
                    'effect': {'type': 'string', 'enum': list(TAINT_EFFECTS)},
                },
            },
            'description': 'Taints kubeseed sets on this node, on join and on every run: a list of {key, value (optional), effect}, '
                           'e.g. [{key: dedicated, value: gpu, effect: NoSchedule}]. key and value follow the label rules; effect is '
                           'NoSchedule, PreferNoSchedule or NoExecute; one taint per key and effect. A taint kubeseed added or changed '
                           'is recorded (key:effect) in the node annotation kubeseed.io/taints and removed from the node when it is '
                           'removed from here; taints set by others (kubeadm\'s control-plane taint, the node controller, kubectl) are '
                           'never removed.',
        },
        # ---- Environment workarounds (all off in the real world) ----------------------------------
        'kubeseed_workaround_cgroup_v1': _workaround(
            'Host has cgroup v1 only: kubelet failCgroupV1 false and kubeadm ignores the SystemVerification preflight error. '
            'Kubernetes 1.35+ refuses cgroup v1 otherwise.'),
        'kubeseed_workaround_no_kernel_modules': _workaround(
            'Kernel without module support: modules needed by Kubernetes are checked as built in (/sys/module) instead of loaded.'),
        'kubeseed_workaround_restrict_oom_score_adj': _workaround(
            'Container runtime lacks CAP_SYS_RESOURCE (nested containers): containerd restrict_oom_score_adj.'),
        'kubeseed_workaround_conntrack_max_per_core_zero': _workaround(
            'nf_conntrack_max cannot be set (network namespaces): kube-proxy conntrack.maxPerCore 0.'),
        'kubeseed_workaround_shared_disk': _workaround(
            "Nodes share their disk with the machine that runs them (the lab's systemd-nspawn hosts share the "
            "controller's): the kubelet's disk-pressure eviction is off (evictionHard nodefs and imagefs 0%) and "
            'its image garbage collection never starts (imageGCHighThresholdPercent 100). Otherwise a disk filled '
            'outside the cluster taints every node disk-pressure at once and evicts its pods, and an offline node '
            'cannot pull a collected image again. Applies at kubeadm init.'),
    },
}

WORKAROUND_PREFIX = 'kubeseed_workaround_'


def cluster_defaults() -> dict:
    """Return {variable: default} for every variable of the contract."""
    return {name: spec['default'] for name, spec in CLUSTER_SCHEMA['properties'].items()}


def host_scoped() -> frozenset:
    """Return the variables that may differ between hosts."""
    return frozenset(name for name, spec in CLUSTER_SCHEMA['properties'].items() if spec.get('x-scope') == 'host')
