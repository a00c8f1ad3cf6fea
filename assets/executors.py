"""Where a run's steps execute, chosen by the deployment (LLM_MIGRATE_EXECUTOR), with the
executor's config from a YAML file (LLM_MIGRATE_EXECUTOR_CONFIG); Dagster's own executors only.

| name | steps run | needs |
|---|---|---|
| ``default`` | Dagster's ``multi_or_in_process_executor`` (below) | nothing |
| ``in_process`` | in the run's process, one after another | nothing |
| ``multiprocess`` | in child processes of the run | nothing |
| ``celery`` | on Celery workers (``dagster-celery worker start``) | ``distributed``; a broker |
| ``k8s`` | each in a Kubernetes Job (``k8s_job_executor``) | extra ``k8s``; a cluster |

``default`` runs a launched run's steps in child processes, and an in-process execution
(``llm-migrate run``, ``materialize``) in its own process.

The config file holds the executor's config block as Dagster documents it (for ``celery``:
``broker``, ``backend``, ``config_source``; for ``k8s``: ``step_k8s_config``,
``per_step_k8s_config``, ``max_concurrent``...), under ``execution: config:`` as in run config
(the form ``dagster-celery worker start -y FILE`` reads too); ``{env: NAME}`` values are read
from the environment when the executor starts. deploy/ holds the files this project ships.
"""

from __future__ import annotations

from dagster import (
    ExecutorDefinition,
    in_process_executor,
    multi_or_in_process_executor,
    multiprocess_executor,
)

from pipeline.config import Settings, read_yaml_file

EXECUTORS = ("default", "in_process", "multiprocess", "celery", "k8s")
EXTRAS = {"celery": ("dagster_celery", "distributed"), "k8s": ("dagster_k8s", "k8s")}


def executor_config(path: str | None) -> dict:
    """The executor's config block, ``execution: config:`` in YAML file ``path`` (none:
    empty); errors name the file."""
    if not path:
        return {}
    loaded = read_yaml_file(path, "executor configuration") or {}
    block = loaded.get("execution") if isinstance(loaded, dict) else None
    if not isinstance(block, dict) or set(block) != {"config"} \
            or not isinstance(block["config"], dict):
        raise ValueError(f"{path}: an executor configuration is the executor's config block "
                         "under `execution: config:`, as in run config")
    return block["config"]


def _base_executor(name: str) -> ExecutorDefinition:
    if name == "default":
        return multi_or_in_process_executor
    if name == "in_process":
        return in_process_executor
    if name == "multiprocess":
        return multiprocess_executor
    module, extra = EXTRAS[name]
    try:
        if name == "celery":
            from dagster_celery import celery_executor
            return celery_executor
        from dagster_k8s import k8s_job_executor
        return k8s_job_executor
    except ImportError:
        raise ValueError(f"LLM_MIGRATE_EXECUTOR={name} needs {module}: pip install "
                         f"'llm-migrate[{extra}]'") from None


def executor(settings: Settings) -> ExecutorDefinition:
    """The executor the settings name, configured from their config file (Dagster checks the
    file's keys against the executor's schema when a run is launched, or by
    ``dagster.validate_run_config``)."""
    if settings.executor not in EXECUTORS:
        raise ValueError(f"LLM_MIGRATE_EXECUTOR={settings.executor!r}: one of "
                         f"{', '.join(EXECUTORS)}")
    base = _base_executor(settings.executor)
    config = executor_config(settings.executor_config)
    return base.configured(config, name=f"{base.name}_llm_migrate") if config else base
