import duckdb
import pytest
from dagster import (
    DefaultScheduleStatus,
    DefaultSensorStatus,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
    materialize,
)

from assets.definitions import defs, model_registry
from assets.jobs import (
    daily_replay_schedule,
    migration_job,
    model_partitions_sensor,
    recalibration_job,
)
from pipeline.replay.online import Limits


def test_code_location_loads_with_jobs_and_stopped_schedules():
    assert {"migration_job", "replay_and_score_job", "recalibration_job", "bi_publish_job"} <= {
        job.name for job in defs.resolve_all_job_defs()
    }
    schedules = list(defs.schedules)
    assert {s.name for s in schedules} == {"daily_replay_schedule", "weekly_recalibration_schedule"}
    assert all(s.default_status == DefaultScheduleStatus.STOPPED for s in schedules)
    assert model_partitions_sensor.default_status == DefaultSensorStatus.RUNNING
    publishers = {s.name: s for s in defs.sensors if s.name.startswith("bi_after_")}
    assert set(publishers) == {"bi_after_success", "bi_after_failure"}
    assert all(s.job_name == "bi_publish_job" for s in publishers.values())
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {"traffic_sample", "replay_responses", "replay_fidelity", "auto_scores",
                    "human_labels", "calibration_drift", "population_posterior",
                    "migration_decision", "migration_report",
                    "label_queue", "bi_snapshot", "cascade_plan"}
    # the report follows every decision, whichever job made it
    for job in (migration_job, recalibration_job):
        selected = {key.to_user_string()
                    for key in job.selection.resolve(defs.resolve_asset_graph())}
        assert {"migration_decision", "label_queue", "migration_report"} <= selected, job.name
    checks = {(key.asset_key.to_user_string(), key.name)
              for key in defs.resolve_asset_graph().asset_check_keys}
    blocking = {("replay_responses", "replay_succeeded"), ("human_labels", "label_files_valid"),
                ("human_labels", "labels_cover_every_slice"),
                ("calibration_drift", "calibration_holds"),
                ("migration_decision", "fits_converged")}
    # every asset that writes tables (the report writes a file)
    tables = {(name, "tables_valid") for name in keys - {"bi_snapshot", "migration_report"}}
    assert checks == blocking | tables | {("replay_fidelity", "replay_matches_production")}
    graph = defs.resolve_asset_graph()
    assert {key for key in blocking
            if graph.get_check_spec(_check_key(*key)).blocking} == blocking
    assert not any(graph.get_check_spec(_check_key(*key)).blocking for key in tables)
    # every pipeline job runs the checks of its assets (the opt-in cascade's stay out)
    migration = defs.resolve_job_def("migration_job").graph.node_names()
    assert {f"{name}_tables_valid" for name, _ in tables if name != "cascade_plan"} <= \
        set(migration) and "cascade_plan_tables_valid" not in migration


def _check_key(asset: str, name: str):
    from dagster import AssetCheckKey, AssetKey

    return AssetCheckKey(AssetKey(asset), name)


def test_registry_models_become_partitions_and_the_schedule_covers_them_all():
    demo = {"models": model_registry()}
    with instance_for_test() as instance:
        result = model_partitions_sensor(build_sensor_context(instance=instance, resources=demo))
        (request,) = result.dynamic_partitions_requests
        assert request.partition_keys == ["incumbent-v1", "candidate-a", "candidate-b"]
        instance.add_dynamic_partitions("model", request.partition_keys)
        again = model_partitions_sensor(build_sensor_context(instance=instance, resources=demo))
        assert again.dynamic_partitions_requests == []
        run = daily_replay_schedule(build_schedule_context(instance=instance))
    assert run.tags["dagster/asset_partition_range_start"] == "incumbent-v1"
    assert run.tags["dagster/asset_partition_range_end"] == "candidate-b"


def test_a_new_candidate_is_replayed_by_its_own_partition(tmp_path):
    from assets import replay_responses, traffic_sample
    from pipeline import config as settings
    from resources import DataSources, ModelConfig, ModelRegistry, Warehouse

    registry = settings.demo_registry()
    database = str(tmp_path / "w.duckdb")
    resources = {
        "warehouse": Warehouse(database=database),
        "sources": DataSources(demo_dir=str(tmp_path / "demo"), demo_rows=30,
                               demo_labels_per_dimension=5),
        "models": ModelRegistry(incumbent="incumbent-v1", offline=True,
                                models=[ModelConfig(**m) for m in registry["models"]]),
    }
    # With the replay pool capped, as the README suggests, the step claims its slot and runs.
    with instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
        instance.add_dynamic_partitions("model", ["incumbent-v1", "candidate-a", "candidate-b"])
        assert materialize([traffic_sample, replay_responses], resources=resources,
                           instance=instance, partition_key="candidate-a").success
        assert replay_responses.op.pool == "llm_replay"
        assert instance.event_log_storage.get_concurrency_info("llm_replay").slot_count == 1
    with duckdb.connect(database) as conn:
        assert conn.execute("SELECT DISTINCT model FROM responses WHERE source <> 'logged'"
                            ).fetchall() == [("candidate-a",)]


def test_core_imports_no_dagster():
    import subprocess
    import sys

    code = ("import sys, pipeline.stats.calibration, pipeline.stats.decision, pipeline.demo.world, "
            "pipeline.data.labels, pipeline.replay, pipeline.replay.store, "
            "pipeline.replay.redaction, pipeline.scoring, pipeline.data.traffic; "
            "sys.exit('dagster' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_keys_come_from_the_environment(monkeypatch):
    import assets.definitions as definitions

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    registry = definitions.model_registry()
    assert registry.openai_api_key is not None
    assert "sk-test-secret" not in repr(registry.openai_api_key)  # an EnvVar, not the value


def test_a_yaml_registry_replaces_the_demo(tmp_path, monkeypatch):
    import assets.definitions as definitions

    path = tmp_path / "models.yaml"
    path.write_text(
        "incumbent: gpt-old\nconcurrency: 4\nrpm: 120\nmodels:\n"
        "  - {name: gpt-old, provider: openai, model_id: gpt-4o-2024-08-06, "
        "price_in_per_mtok: 2.5}\n"
        "  - {name: local, provider: openai_compatible, model_id: llama, base_url: 'http://127.0.0.1:8000/v1'}\n"
        "  - {name: judge, provider: anthropic, model_id: claude-x, judge_only: true}\n"
    )
    monkeypatch.setenv("LLM_MIGRATE_MODELS", str(path))
    registry = definitions.model_registry()
    assert registry.incumbent == "gpt-old" and not registry.offline
    assert registry.candidates() == ["local"]
    assert registry.names() == ["gpt-old", "local"]  # the judge is never replayed or compared
    assert registry.model("judge").spec().model_id == "claude-x"
    assert registry.limits("gpt-old") == Limits(concurrency=4, rpm=120)
    assert registry.model("gpt-old").spec().price_in_per_mtok == 2.5
    path.write_text("models: []\n")
    with pytest.raises(ValueError, match="incumbent: required"):
        definitions.model_registry()


def test_limits_are_set_per_provider_and_per_model(tmp_path, monkeypatch):
    import assets.definitions as definitions

    path = tmp_path / "models.yaml"
    path.write_text(
        "incumbent: gpt-old\nconcurrency: 16\nrpm: 1000\n"
        "provider_limits:\n  openai_compatible: {concurrency: 4}\n  anthropic: {tpm: 80000}\n"
        "models:\n"
        "  - {name: gpt-old, provider: openai, model_id: gpt-4o}\n"
        "  - {name: local, provider: openai_compatible, model_id: llama}\n"
        "  - {name: tiny, provider: openai_compatible, model_id: qwen, limits: {concurrency: 1}}\n"
        "  - {name: claude, provider: anthropic, model_id: claude-x, limits: {rpm: 50}}\n"
    )
    monkeypatch.setenv("LLM_MIGRATE_MODELS", str(path))
    registry = definitions.model_registry()
    assert registry.limits("gpt-old") == Limits(concurrency=16, rpm=1000)
    assert registry.limits("local") == Limits(concurrency=4, rpm=1000)
    assert registry.limits("tiny") == Limits(concurrency=1, rpm=1000)
    assert registry.limits("claude") == Limits(concurrency=16, rpm=50, tpm=80000)


@pytest.mark.parametrize("text, message", [
    ("provider_limit: {}\nmodels: []\n", r"provider_limit: Extra inputs are not permitted"),
    ("provider_limits: {openai: {concurency: 3}}\nmodels: []\n", r"openai\.concurency"),
    ("models:\n  - {name: a, provider: openai, model_id: x, limts: {}}\n",
     r"(?s)models\[0\] \(a\).*limts"),
    ("models:\n  - {name: a, provider: openai, model_id: x, limits: {concurrency: 0}}\n",
     r"(?s)models\[0\] \(a\).*limits\.concurrency.*greater than or equal to 1"),
    ("rpm: -5\nmodels: []\n", r"(?s)rpm.*greater than 0"),
])
def test_a_bad_registry_names_the_file_and_the_field(tmp_path, monkeypatch, text, message):
    import assets.definitions as definitions

    path = tmp_path / "models.yaml"
    path.write_text("incumbent: a\n" + text)
    monkeypatch.setenv("LLM_MIGRATE_MODELS", str(path))
    with pytest.raises(ValueError, match=message) as caught:
        definitions.model_registry()
    assert str(caught.value).startswith(str(path))
