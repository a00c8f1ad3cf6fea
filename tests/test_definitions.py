from dagster import DefaultScheduleStatus

from pipeline.definitions import defs


def test_code_location_loads_with_jobs_and_stopped_schedules():
    assert {"migration_job", "replay_and_score_job", "recalibration_job"} <= {
        job.name for job in defs.resolve_all_job_defs()
    }
    schedules = list(defs.schedules)
    assert len(schedules) == 2
    assert all(s.default_status == DefaultScheduleStatus.STOPPED for s in schedules)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {"traffic_sample", "replay_responses", "auto_scores", "human_labels",
                    "calibration_fit", "population_posterior", "migration_decision"}


def test_core_imports_no_dagster():
    import subprocess
    import sys

    code = ("import sys, pipeline.calibration, pipeline.decision, pipeline.demo_world, "
            "pipeline.labels, pipeline.replay, pipeline.scoring, pipeline.traffic; "
            "sys.exit('dagster' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_keys_come_from_the_environment(monkeypatch):
    import importlib

    import pipeline.definitions as definitions

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    registry = importlib.reload(definitions).model_registry()
    assert registry.openai_api_key is not None
    assert "sk-test-secret" not in repr(registry.openai_api_key)  # an EnvVar, not the value
