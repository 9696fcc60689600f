"""Job and cronJob entries against a real API server (no kubelet here, so a Job's pod never runs: its completion is
the lab e2e's, tests/e2e/test_cluster.py): a Job that has not completed holds back the services of its runBefore,
a CronJob converges and re-applies as a no-op, and both are pruned with their entries."""
from __future__ import annotations

from kubernetes import client

from conftest import exists


def release(image: str = 'example.com/api:2') -> list:
    return [
        {'name': 'web', 'image': 'example.com/web:1'},
        {'name': 'api', 'image': image, 'config': {'LOG_LEVEL': 'info'}},
        {'name': 'migrate', 'image': image, 'args': ['migrate'], 'secrets': {'DB_PASSWORD': 'job-secret-never-shown'},
         'job': {'runBefore': ['api']}},
        {'name': 'report', 'image': 'example.com/report:1', 'cronJob': {'schedule': '0 3 * * *', 'concurrencyPolicy': 'Forbid'}},
    ]


def test_a_job_that_does_not_complete_holds_back_its_services_and_cron_jobs_converge(run, api):
    ns = 'it-jobs'
    apps, batch, core = client.AppsV1Api(api), client.BatchV1Api(api), client.CoreV1Api(api)
    held = run.module(services=release(), namespace=ns, set_name='jobs', wait_timeout=5)
    assert held['failed'] is True and held['changed'] is True
    assert {o['namespace'] for o in held['objects']} <= {ns, ''}, held['objects']  # the set's own objects only
    msg = held['msg']
    assert msg.startswith('1 of 1 Job(s) that run before services did not complete, so these were not applied (they run as before): '
                          'Deployment it-jobs/api\nJob it-jobs/migrate-'), msg
    assert 'not complete within 5s (1 pod(s) active, 0 failed)' in msg and 'PodScheduled=False Unschedulable' in msg, msg
    assert 'job-secret-never-shown' not in run.stdout + str(held)
    # what does not wait for the Job is there; api is not, not even its ConfigMap
    assert exists(apps.read_namespaced_deployment, 'web', ns) and exists(batch.read_namespaced_cron_job, 'report', ns)
    assert not exists(apps.read_namespaced_deployment, 'api', ns) and not exists(core.read_namespaced_config_map, 'api-config', ns)
    jobs = batch.list_namespaced_job(ns).items
    assert [j.metadata.name[:len('migrate-')] for j in jobs] == ['migrate-'] and jobs[0].spec.backoff_limit == 0
    assert jobs[0].spec.template.spec.restart_policy == 'Never'
    cron = batch.read_namespaced_cron_job('report', ns)
    assert cron.spec.schedule == '0 3 * * *' and cron.spec.concurrency_policy == 'Forbid'

    # check mode predicts the held objects (no wait) and changes nothing
    check = run.module('--check', services=release(), namespace=ns, set_name='jobs', wait=True, wait_timeout=5)
    assert not check.get('failed'), check.get('msg')
    assert {(o['kind'], o['name']): o['action'] for o in check['objects'] if o['action'] != 'unchanged'} == {
        ('ConfigMap', 'api-config'): 'created', ('Deployment', 'api'): 'created'}
    assert not exists(apps.read_namespaced_deployment, 'api', ns)

    # without the job entry (and api), the Job is pruned, the CronJob stays as it is; then a re-run changes nothing
    rest = [svc for svc in release() if svc['name'] in ('web', 'report')]
    pruned = run.module(services=rest, namespace=ns, set_name='jobs')
    assert not pruned.get('failed'), pruned.get('msg')
    assert {(o['kind'], o['action']) for o in pruned['objects'] if o['action'] != 'unchanged'} == {('Job', 'pruned'), ('Secret', 'pruned')}
    again = run.module(services=rest, namespace=ns, set_name='jobs')
    assert again['changed'] is False, again['objects']
    assert [r['endpoints'] for r in again['summary'] if r['service'] == 'report'] == [['schedule 0 3 * * *']]
    assert again['summary_table'][0] == 'set jobs: 1 service(s), 1 job(s), 0 changed'
    gone = run.module(state='absent', namespace=ns, set_name='jobs')
    assert {(o['kind'], o['action']) for o in gone['objects']} == {('Deployment', 'deleted'), ('CronJob', 'deleted')}
