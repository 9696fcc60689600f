"""The published schema, the role defaults and argument_specs agree with the contract in module_utils."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from ansible_collections.kubeseed.cluster.plugins.module_utils._cluster_schema import CLUSTER_SCHEMA, cluster_defaults


def test_published_schemas_are_current(root):
    result = subprocess.run([sys.executable, str(root / 'scripts' / 'gen-schemas.py'), '--check'], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout


def test_kubernetes_pod_schemas_are_those_of_the_bundled_kubernetes(root, tmp_path):
    """plugins/module_utils/_k8s_pod_schema.py is what the generator makes of the OpenAPI document (when the bundle build
    has put it in the Go module cache; else the generator is run on a small document of the same shape)."""
    gen = str(root / 'scripts' / 'gen-k8s-pod-schema.py')
    result = subprocess.run([sys.executable, gen, '--check'], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    sys.path.insert(0, str(root / 'scripts'))
    try:
        import importlib.util  # pylint: disable=import-outside-toplevel
        spec = importlib.util.spec_from_file_location('gen_k8s_pod_schema', gen)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    ref = {'allOf': [{'$ref': '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement'}]}
    schemas = {'io.k8s.api.core.v1.Affinity': {'type': 'object', 'properties': {'sel': ref, 'w': {'type': 'integer', 'format': 'int32'}},
                                               'required': ['w']},
               'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement': {
                   'properties': {'operator': {'type': 'string'}, 'values': {'type': 'array', 'items': {'type': 'string'}}}},
               'io.k8s.api.core.v1.TopologySpreadConstraint': {
                   'type': 'object', 'properties': {'maxSkew': {'type': 'integer', 'format': 'int32'}, 'nodeTaintsPolicy': {'type': 'string'}}}}
    assert module.definitions(schemas) == {
        'k8s.Affinity': {'type': 'object', 'properties': {'sel': {'$ref': '#/$defs/k8s.LabelSelectorRequirement'},
                                                          'w': {'type': 'integer', 'minimum': -2147483648, 'maximum': 2147483647}},
                         'additionalProperties': False, 'required': ['w']},
        'k8s.LabelSelectorRequirement': {'type': 'object', 'properties': {'operator': {'type': 'string', 'enum': ['In', 'NotIn', 'Exists', 'DoesNotExist']},
                                                                          'values': {'type': 'array', 'items': {'type': 'string'}}},
                                         'additionalProperties': False},
        'k8s.TopologySpreadConstraint': {'type': 'object', 'properties': {'maxSkew': {'type': 'integer', 'minimum': 1, 'maximum': 2147483647},
                                                                          'nodeTaintsPolicy': {'type': 'string', 'enum': ['Honor', 'Ignore']}},
                                         'additionalProperties': False}}


def _roles(root):
    return sorted(p for p in (root / 'roles').iterdir() if p.is_dir())


def test_role_defaults_of_contract_variables_equal_the_schema_default(root):
    defaults = cluster_defaults()
    for role in _roles(root):
        path = role / 'defaults' / 'main.yml'
        values = yaml.safe_load(path.read_text(encoding='utf-8')) or {} if path.exists() else {}
        for name, value in values.items():
            if name in defaults:
                assert value == defaults[name], '%s: %s default %r differs from the contract %r' % (path, name, value, defaults[name])


def test_every_role_variable_is_documented_in_argument_specs(root):
    for role in _roles(root):
        specs = yaml.safe_load((role / 'meta' / 'argument_specs.yml').read_text(encoding='utf-8'))['argument_specs']
        documented = {name for entry in specs.values() for name in (entry.get('options') or {})}
        path = role / 'defaults' / 'main.yml'
        values = yaml.safe_load(path.read_text(encoding='utf-8')) or {} if path.exists() else {}
        missing = sorted(set(values) - documented)
        assert not missing, '%s: defaults not in meta/argument_specs.yml: %s' % (role.name, missing)
        for entry in specs.values():
            for name, option in (entry.get('options') or {}).items():
                if name in values and 'default' in option:
                    assert option['default'] == values[name], '%s: %s argument_specs default differs from defaults/main.yml' % (role.name, name)


def test_public_role_variables_are_prefixed(root):
    for role in _roles(root):
        path = role / 'defaults' / 'main.yml'
        values = yaml.safe_load(path.read_text(encoding='utf-8')) or {} if path.exists() else {}
        for name in values:
            assert name.startswith('kubeseed_'), '%s: %s is not prefixed kubeseed_' % (role.name, name)


def test_example_group_vars_only_use_contract_variables(root):
    known = set(CLUSTER_SCHEMA['properties'])
    for path in sorted((root / 'inventories' / 'example' / 'group_vars').rglob('*.yml')):
        values = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
        unknown = sorted(n for n in values if n.startswith('kubeseed_') and n not in known)
        assert not unknown, '%s: %s' % (path, unknown)


KUBESEED_NAME = re.compile(r'\bkubeseed_[a-z0-9_]+\b')
REGISTERED = re.compile(r'^\s*register:\s*(kubeseed_[a-z0-9_]+)\s*$', re.M)


def test_roles_only_read_their_own_documented_variables(root):
    """A role included alone from a user's playbook needs nothing that only site.yml or another role sets."""
    for role in _roles(root):
        specs = yaml.safe_load((role / 'meta' / 'argument_specs.yml').read_text(encoding='utf-8'))['argument_specs']
        documented = {name for entry in specs.values() for name in (entry.get('options') or {})}
        path = role / 'defaults' / 'main.yml'
        defaults = set(yaml.safe_load(path.read_text(encoding='utf-8')) or {}) if path.exists() else set()
        used, registered, passed = set(), set(), set()
        for source in [*role.glob('tasks/*.yml'), *role.glob('templates/*'), *role.glob('vars/*.yml')]:
            text = source.read_text(encoding='utf-8')
            used |= set(KUBESEED_NAME.findall(text))
            registered |= set(REGISTERED.findall(text))
            if source.parent.name == 'tasks':
                # a variable handed to another role of the collection (include_role vars:) is set here, not read
                # an in-memory group the role creates (add_host groups:) is a name it sets, not a variable
                tasks = list(_tasks(yaml.safe_load(text)))
                passed |= {task['ansible.builtin.add_host']['groups'] for task in tasks if 'ansible.builtin.add_host' in task}
                passed |= {name for task in tasks if 'ansible.builtin.include_role' in task or 'ansible.builtin.import_role' in task
                           for name in task.get('vars') or {}}
        needed = used - registered - passed
        assert not needed - defaults, '%s reads variables without a default: %s' % (role.name, sorted(needed - defaults))
        assert not needed - documented, '%s reads variables not in argument_specs: %s' % (role.name, sorted(needed - documented))


def _task_files(root):
    return sorted([*root.glob('roles/*/tasks/*.yml'), *root.glob('playbooks/*.yml'), *root.glob('docs/examples/*.yml'),
                   *root.glob('docs/awx-project/**/*.yml'), root / 'site.yml'])


def _tasks(node):
    """Every task dict of a playbook or task file, blocks and plays included."""
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        if not {'hosts', 'block', 'tasks'} & set(node) or 'block' in node:
            yield node
        for key in ('tasks', 'pre_tasks', 'post_tasks', 'handlers', 'block', 'rescue', 'always'):
            yield from _tasks(node.get(key))


def test_controller_side_tasks_never_become(root):
    """Tasks on the controller must run as the user of the job (AWX: uid 1000, no sudo)."""
    for path in _task_files(root):
        for task in _tasks(yaml.safe_load(path.read_text(encoding='utf-8'))):
            if task.get('delegate_to') in ('localhost', '127.0.0.1'):
                assert task.get('become') is False, '%s: task %r runs on the controller without become: false' % (path, task.get('name'))
                # An inventory's ansible_become variable overrides the keyword; a task variable overrides the inventory.
                assert (task.get('vars') or {}).get('ansible_become') is False, \
                    '%s: task %r runs on the controller without vars: {ansible_become: false}' % (path, task.get('name'))


def test_shipped_inventories_never_become_on_all(root):
    """ansible_become on `all` reaches the implicit localhost: the controller-side tasks of a job would need sudo."""
    for hosts in [*root.glob('inventories/*/hosts.yml'), root / 'docs' / 'awx-project' / 'inventory' / 'hosts.yml']:
        data = yaml.safe_load(hosts.read_text(encoding='utf-8'))
        assert 'ansible_become' not in ((data.get('all') or {}).get('vars') or {}), hosts
        for group_vars in hosts.parent.glob('group_vars/all*'):
            for path in [group_vars] if group_vars.is_file() else group_vars.rglob('*.yml'):
                assert 'ansible_become' not in (yaml.safe_load(path.read_text(encoding='utf-8')) or {}), path


def test_nothing_prompts(root):
    """AWX never answers a prompt: no vars_prompt, no pause without a timeout."""
    for path in _task_files(root):
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
        for play in data if isinstance(data, list) else []:
            assert not (isinstance(play, dict) and play.get('vars_prompt')), '%s: vars_prompt' % path
        for task in _tasks(data):
            for action in ('pause', 'ansible.builtin.pause', 'ansible.legacy.pause'):
                if action in task:
                    args = task[action] or {}
                    assert isinstance(args, dict) and ({'seconds', 'minutes'} & set(args)), '%s: %s without a timeout' % (path, action)


def test_awx_sample_project_is_consistent(root):
    """The credential type injects what the modules read, the survey feeds the services, the job templates exist."""
    project = root / 'docs' / 'awx-project'
    client = (root / 'plugins' / 'module_utils' / '_k8s_client.py').read_text(encoding='utf-8')
    credential = yaml.safe_load((project / 'awx' / 'credential-type.yml').read_text(encoding='utf-8'))
    assert 'K8S_AUTH_KUBECONFIG' in credential['injectors']['env']
    for name in credential['injectors']['env']:
        assert "'%s'" % name in client, '%s is injected but the Kubernetes client never reads it' % name
    survey = json.loads((project / 'awx' / 'survey-apps.json').read_text(encoding='utf-8'))
    services = (project / 'services' / 'shop.yml').read_text(encoding='utf-8')
    for question in survey['spec']:
        assert question['variable'] in services, question
    templates = yaml.safe_load((project / 'awx' / 'job-templates.yml').read_text(encoding='utf-8'))
    for template in templates['job_templates']:
        assert (project / template['playbook']).exists(), template
        if template.get('survey_spec'):
            assert (project / 'awx' / template['survey_spec']).exists()
    requirements = yaml.safe_load((project / 'collections' / 'requirements.yml').read_text(encoding='utf-8'))
    assert [c['name'] for c in requirements['collections']] == ['kubeseed.cluster']


def test_execution_environment_venv_matches_the_declared_requirements(root):
    """requirements/ee.txt (the .venv-ee the AWX-style tests run) holds what meta/ee-requirements.txt declares, pinned as dev.txt."""
    def pins(path):
        lines = [line.split('#')[0].strip() for line in path.read_text(encoding='utf-8').splitlines()]
        return dict(re.split(r'==', line, maxsplit=1) for line in lines if '==' in line)
    ee, dev = pins(root / 'requirements' / 'ee.txt'), pins(root / 'requirements' / 'dev.txt')
    declared = [re.split(r'[<>=!~ ]', line.strip(), maxsplit=1)[0] for line in (root / 'meta' / 'ee-requirements.txt').read_text(encoding='utf-8').splitlines()
                if line.strip() and not line.startswith('#')]
    assert declared and all(name in ee for name in declared), (declared, ee)
    assert {'ansible-core', 'ansible-runner'} <= set(ee)
    for name, version in ee.items():
        assert dev.get(name) == version, '%s: ee.txt pins %s, dev.txt %s' % (name, version, dev.get(name))


def test_microservices_guard_knows_exactly_the_role_variables(root):
    """The misspelt-variable guard must know every variable the role documents (else it would refuse a real one)."""
    from ansible_collections.kubeseed.cluster.plugins.module_utils._microservices_guard import ROLE_VARIABLES
    specs = yaml.safe_load((root / 'roles' / 'microservices' / 'meta' / 'argument_specs.yml').read_text(encoding='utf-8'))
    documented = {name for name in specs['argument_specs']['main']['options'] if name.startswith('kubeseed_microservices')}
    assert documented == set(ROLE_VARIABLES)


CONDITIONALS = ('when', 'that', 'until', 'failed_when', 'changed_when')
JINJA = re.compile(r'\{\{(.*?)\}\}|\{%(.*?)%\}', re.S)


def _jinja_expressions(path) -> list:
    """The Jinja a file evaluates: {{ }} and {% %} anywhere, and the bare expressions of conditional keys (text, names
    of tasks and comments read no variable). A module argument given as exactly "{{ var }}" is converted by the module."""
    text = path.read_text(encoding='utf-8')
    if path.suffix not in ('.yml', '.yaml'):
        return [a or b for a, b in JINJA.findall(text)]
    found = []

    def walk(node, key=None):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str):
            if key in CONDITIONALS:
                found.append(node)
            elif not re.fullmatch(r'\s*\{\{\s*[a-z_]+\s*\}\}\s*', node):
                found.extend(a or b for a, b in JINJA.findall(node))
    walk(yaml.safe_load(text))
    return found


def test_boolean_and_integer_role_variables_are_converted_where_used(root):
    """An INI inventory or an AWX survey gives 'false' and '6443' as strings, and argument_specs only check them (the
    role still reads the string): every use outside a module argument (which converts) needs `| bool` or `| int`."""
    import glob
    typed = {}
    for path in sorted(glob.glob(str(root / 'roles' / '*' / 'meta' / 'argument_specs.yml'))):
        for entry in yaml.safe_load(open(path, encoding='utf-8'))['argument_specs'].values():
            for name, option in (entry.get('options') or {}).items():
                if option.get('type') in ('bool', 'int'):
                    typed[name] = option['type']
    assert 'kubeseed_control_plane_fetch_kubeconfig' in typed and 'kubeseed_apiserver_port' in typed
    files = [p for p in (root / 'roles').rglob('*') if p.is_file() and p.parts[-2] in ('tasks', 'vars', 'templates', 'handlers')]
    files += list((root / 'playbooks').glob('*.yml'))
    unconverted = []
    for path in files:
        for expression in _jinja_expressions(path):
            for name, kind in typed.items():
                for match in re.finditer(r'\b%s\b' % name, expression):
                    if not re.match(r'\s*(\|\s*default\([^)]*\)\s*)?\|\s*%s\b' % kind, expression[match.end():]):
                        unconverted.append('%s: %s' % (path.relative_to(root), expression.strip()[:160]))
    assert unconverted == []


def test_requires_ansible_is_the_oldest_ansible_core_ci_tests(root):
    runtime = yaml.safe_load((root / 'meta' / 'runtime.yml').read_text(encoding='utf-8'))
    tested = []
    for name in ('dev.txt', 'compat.txt'):
        pins = re.findall(r'^ansible-core==([0-9.]+)$', (root / 'requirements' / name).read_text(encoding='utf-8'), re.M)
        tested += [tuple(int(x) for x in pin.split('.')[:2]) for pin in pins]
    oldest = min(tested)
    assert runtime['requires_ansible'] == '>=%d.%d.0' % oldest, (runtime['requires_ansible'], tested)


def test_argument_specs_hold_no_jinja(root):
    """ansible.builtin.validate_argument_spec templates the whole spec, descriptions too: a '{{ var }}' written as an
    example in a description fails every run of the role when var is undefined (it did, for the microservices role)."""
    for role in _roles(root):
        text = (role / 'meta' / 'argument_specs.yml').read_text(encoding='utf-8')
        assert '{{' not in text and '{%' not in text, '%s/meta/argument_specs.yml holds Jinja' % role.name
