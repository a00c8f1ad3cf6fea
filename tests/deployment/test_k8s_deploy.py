"""deploy/ against the code: the Kubernetes executor's config is one k8s_job_executor accepts,
its per-step entries name real steps and are valid Kubernetes objects, the Helm values start
this project's code location on the image's port, and the image installs the wheel.

No Docker engine or Kubernetes cluster runs where this project is developed: nothing here builds
the image or installs the chart. The instance file (deploy/dagster.yaml) runs for real against
PostgreSQL in test_celery_executor.py.
"""

import re
import sys
import tomllib

import kubernetes.client as k8s
import pytest
import yaml
from dagster import DagsterInstance, DagsterInvalidConfigError, validate_run_config
from dagster_k8s.models import k8s_model_from_dict

from assets.definitions import definitions
from assets.executors import executor_config
from pipeline.config import PROJECT_ROOT, Settings, read_yaml_file

DEPLOY = PROJECT_ROOT / "deploy"
K8S_EXECUTOR = DEPLOY / "k8s" / "executor.yaml"
CELERY_EXECUTOR = DEPLOY / "celery" / "executor.yaml"
HELM = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
FINAL_STAGE = DOCKERFILE.rsplit("\nFROM ", 1)[1]
(USER_CODE,) = HELM["dagster-user-deployments"]["deployments"]
HELM_ENV = {item["name"]: item["value"] for item in USER_CODE["env"]}


def test_every_deploy_file_is_yaml_our_reader_accepts():
    for path in DEPLOY.rglob("*.yaml"):
        assert isinstance(read_yaml_file(path, "deployment file"), dict), path


def k8s_job(path=K8S_EXECUTOR, job: str = "migration_job"):
    defs = definitions(Settings(executor="k8s", executor_config=str(path)))
    return defs, defs.resolve_job_def(job)


def test_the_k8s_executor_config_is_accepted_by_k8s_job_executor():
    defs, job = k8s_job()
    assert job.executor_def.name == "k8s_llm_migrate"  # k8s_job_executor, configured
    validate_run_config(job)  # the file's keys against k8s_job_executor's schema


def test_a_wrong_key_in_the_executor_config_is_refused(tmp_path):
    bad = tmp_path / "executor.yaml"
    bad.write_text(K8S_EXECUTOR.read_text().replace("per_step_k8s_config", "per_step_config"))
    with pytest.raises(DagsterInvalidConfigError, match="per_step_config"):
        validate_run_config(k8s_job(bad)[1])


def test_per_step_entries_name_real_steps_and_valid_kubernetes_objects():
    defs, _ = k8s_job()
    steps = {name for job in ("migration_job", "replay_and_score_job")
             for name in defs.resolve_job_def(job).graph.node_names()}
    config = executor_config(str(K8S_EXECUTOR))
    per_step = config["per_step_k8s_config"]
    assert set(per_step) <= steps and {"auto_scores", "replay_responses"} <= set(per_step)
    for entry in [config["step_k8s_config"], *per_step.values()]:
        k8s_model_from_dict(k8s.V1Container, {"name": "step", **entry.get("container_config", {})})
        k8s_model_from_dict(k8s.V1PodSpec, {"containers": [], **entry.get("pod_spec_config", {})})


def merged(step: str) -> dict:
    """What a step's pod asks for: the default deep-merged with the step's own entry."""
    config = executor_config(str(K8S_EXECUTOR))

    def merge(base, over):
        if isinstance(base, dict) and isinstance(over, dict):
            return {k: merge(base.get(k), over.get(k)) if k in base and k in over
                    else over.get(k, base.get(k)) for k in {*base, *over}}
        return over
    return merge(config["step_k8s_config"], config["per_step_k8s_config"].get(step, {}))


def test_scoring_runs_on_a_gpu_node_and_the_replay_on_cpu():
    scoring, replay = merged("auto_scores"), merged("replay_responses")
    resources = scoring["container_config"]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == "1"
    assert scoring["pod_spec_config"]["node_selector"] == {"llm-migrate/pool": "gpu"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in \
        scoring["pod_spec_config"]["tolerations"]
    assert "nvidia.com/gpu" not in str(replay)
    assert replay["pod_spec_config"]["node_selector"] == {"llm-migrate/pool": "cpu"}


def test_the_celery_executor_config_is_accepted_by_celery_executor(monkeypatch):
    monkeypatch.setenv("LLM_MIGRATE_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("LLM_MIGRATE_CELERY_BACKEND", "redis://127.0.0.1:6379/0")
    defs = definitions(Settings(executor="celery", executor_config=str(CELERY_EXECUTOR)))
    validate_run_config(defs.resolve_job_def("migration_job"))


def test_an_executor_needs_its_extra_or_says_which(monkeypatch):
    from assets.executors import executor

    monkeypatch.setitem(sys.modules, "dagster_k8s", None)  # as if not installed
    with pytest.raises(ValueError, match=r"pip install 'llm-migrate\[k8s\]'"):
        executor(Settings(executor="k8s"))
    with pytest.raises(ValueError, match="one of default, in_process, multiprocess, celery, k8s"):
        executor(Settings(executor="kubernetes"))


def test_the_helm_values_start_this_code_location_on_the_images_port():
    dagster = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]
    assert USER_CODE["dagsterApiGrpcArgs"] == ["--module-name", dagster["module_name"]]
    assert f'"--module-name", "{dagster["module_name"]}"' in FINAL_STAGE
    port = USER_CODE["port"]
    assert f"EXPOSE {port}" in FINAL_STAGE and f'"--port", "{port}"' in FINAL_STAGE
    assert USER_CODE["includeConfigInLaunchedRuns"]["enabled"]  # steps get the same env
    assert HELM["runLauncher"]["type"] == "K8sRunLauncher"


def test_the_helm_env_is_what_the_settings_read():
    settings = Settings.from_env(HELM_ENV)
    assert settings.executor == "k8s"
    assert settings.database == HELM_ENV["LLM_MIGRATE_DB"]
    assert settings.artifacts_root == HELM_ENV["LLM_MIGRATE_ARTIFACTS"]
    assert settings.bi_snapshot == HELM_ENV["LLM_MIGRATE_BI_SNAPSHOT"]
    unread = [name for name in HELM_ENV if name not in (PROJECT_ROOT / "pipeline" / "config.py")
              .read_text()]
    assert unread == []
    # the executor config the values name is where the image puts deploy/k8s/executor.yaml
    copied = re.search(r"COPY deploy/k8s/executor.yaml (\S+)", FINAL_STAGE)
    assert copied and settings.executor_config == copied[1]


def test_the_image_installs_the_wheel_not_the_checkout():
    assert "pip wheel --no-deps" in DOCKERFILE.split("\nFROM ", 2)[1]  # the build stage
    assert re.search(r"pip install --constraint /tmp/requirements.lock .*llm_migrate-\*\.whl",
                     FINAL_STAGE)
    copied = re.findall(r"^COPY (?!--from)(\S+)", FINAL_STAGE, re.MULTILINE)
    assert all(source == "requirements.lock" or source.startswith("deploy/")
               for source in copied), copied


def test_the_instance_file_queues_runs_with_the_helm_values_limits(tmp_path):
    """deploy/dagster.yaml as Dagster loads it (its PostgreSQL storage swapped for a folder;
    test_celery_executor.py runs it on PostgreSQL), and the Helm values say the same."""
    instance_yaml = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    assert instance_yaml["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_POSTGRES_URL"}
    local = {**instance_yaml, "storage": {"sqlite": {"base_dir": str(tmp_path / "storage")}}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(local))
    limits = instance_yaml["concurrency"]["runs"]
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == limits["max_concurrent_runs"]
        assert [limit["key"] for limit in queue.tag_concurrency_limits] \
            == ["dagster/partition", "dagster/backfill"]
        assert instance.event_log_storage.get_concurrency_info("llm_replay").limit \
            == instance_yaml["concurrency"]["pools"]["default_limit"]
    finally:
        instance.dispose()
    queued = HELM["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued["maxConcurrentRuns"] == limits["max_concurrent_runs"]
    assert queued["tagConcurrencyLimits"] == limits["tag_concurrency_limits"]
