"""Provider limits hold for the whole deployment: each replay step paces at its share of the
registry's limits, the share set by how many replay steps the `llm_replay` pool lets run at
once (or the registry's `replay_workers`) and how many replayed models its provider serves.
Measured where a provider measures it: requests per minute at the loopback provider, with four
runs replaying against it at once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, build_asset_context, instance_for_test, materialize

from assets import traffic_sample
from assets.partitions import ensure_model_partitions
from assets.replay_responses import REPLAY_POOL, replay_workers
from pipeline.demo import server as offline_server
from pipeline.demo import world as demo_world
from pipeline.replay.online import Limits
from resources import DataSources, ModelConfig, ModelRegistry, Warehouse

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).parent / "dagster")


def test_a_share_of_the_limits_per_worker():
    limits = Limits(concurrency=16, rpm=240, tpm=100_000)
    assert limits.shared_by(1) == limits
    assert limits.shared_by(4) == Limits(concurrency=4, rpm=60, tpm=25_000)
    assert Limits(concurrency=3).shared_by(4) == Limits(concurrency=1)  # at least one each
    with pytest.raises(ValueError, match="at least 1"):
        limits.shared_by(0)


def test_a_model_alone_at_its_provider_keeps_its_whole_limits():
    registry = ModelRegistry(incumbent="old", rpm=600, concurrency=16, models=[
        ModelConfig(name="old", provider="openai", model_id="x", retired=True),
        ModelConfig(name="gpt", provider="openai", model_id="y"),
        ModelConfig(name="judge", provider="openai", model_id="z", judge_only=True),
        ModelConfig(name="claude", provider="anthropic", model_id="c1"),
        ModelConfig(name="claude-2", provider="anthropic", model_id="c2"),
        ModelConfig(name="local", provider="openai_compatible", model_id="q")])
    # four steps at once: each Anthropic model shares with the other, the rest stand alone
    assert registry.shared_limits("gpt", 4) == Limits(concurrency=16, rpm=600)
    assert registry.shared_limits("claude", 4) == Limits(concurrency=8, rpm=300)
    assert registry.shared_limits("local", 4) == Limits(concurrency=16, rpm=600)
    assert registry.shared_limits("claude", 1) == Limits(concurrency=16, rpm=600)


def _registry(**fields) -> ModelRegistry:
    return ModelRegistry(incumbent="a", models=[ModelConfig(name="a", provider="openai",
                                                            model_id="x")], **fields)


def test_the_share_comes_from_the_pool_limit_or_the_registry():
    with instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 4}}}) as inst:
        assert replay_workers(build_asset_context(instance=inst), _registry()) == 4
        inst.event_log_storage.set_concurrency_slots(REPLAY_POOL, 3)  # instance concurrency set
        assert replay_workers(build_asset_context(instance=inst), _registry()) == 3
        assert replay_workers(build_asset_context(instance=inst),
                              _registry(replay_workers=2)) == 2
    with instance_for_test() as unlimited:  # no pool limit: one step's limits are all there is
        assert replay_workers(build_asset_context(instance=unlimited), _registry()) == 1


@pytest.mark.slow
def test_four_runs_at_once_stay_within_the_provider_rpm(tmp_path):
    """Four models at one OpenAI-compatible provider, registry `rpm: 240`, `concurrency: 8`,
    pool limit 4: four `dagster asset materialize --partition M` processes replay 75 requests
    each at once. The provider sees at most 240 requests in any minute and 8 in flight."""
    rpm, concurrency, rows = 240, 8, 75
    names = [f"model-{i}" for i in range(4)]
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    traffic = tmp_path / "traffic.parquet"
    demo_world.generate_traffic(rows, 3).drop(columns=["response", "model"]).to_parquet(traffic)
    database = tmp_path / "w.duckdb"
    with offline_server.serve(latency_s=1.5) as server:
        registry = tmp_path / "models.yaml"
        registry.write_text(
            f"incumbent: model-0\nrpm: {rpm}\nconcurrency: {concurrency}\nmodels:\n" + "".join(
                f"  - {{name: {name}, provider: openai_compatible, model_id: candidate-a, "
                f"base_url: '{server.base_url}', max_tokens: {64 + i}}}\n"  # 4 request bodies
                for i, name in enumerate(names)))
        models = ModelRegistry.from_file(registry)
        with DagsterInstance.from_config(str(home)) as instance:
            instance.event_log_storage.set_concurrency_slots(REPLAY_POOL, 4)
            ensure_model_partitions(instance, names)
            assert materialize([traffic_sample], instance=instance,
                               resources={"warehouse": Warehouse(database=str(database)),
                                          "models": models,
                                          "sources": DataSources(traffic=str(traffic))}).success
        env = {**os.environ, "DAGSTER_HOME": str(home), "LLM_MIGRATE_DB": str(database),
               "LLM_MIGRATE_MODELS": str(registry), "LLM_MIGRATE_TRAFFIC": str(traffic),
               "LLM_MIGRATE_ARTIFACTS": str(tmp_path / "artifacts")}
        runs = []
        for name in names:
            with (tmp_path / f"{name}.log").open("w") as out:
                runs.append(subprocess.Popen(
                    [DAGSTER, "asset", "materialize", "-m", "assets.definitions",
                     "--select", "replay_responses", "--partition", name],
                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
        outputs = [(run.wait(timeout=900), (tmp_path / f"{name}.log").read_text())
                   for run, name in zip(runs, names)]
        per_minute, busiest = server.requests_per_minute, server.busiest_minute
        peak, asked = server.peak_in_flight, len(server.arrival_times)
    print(f"requests per minute at the provider (from the first): "
          f"{per_minute[next(i for i, n in enumerate(per_minute) if n):]}; busiest 60 s: "
          f"{busiest}; peak in flight: {peak}")
    for code, output in outputs:
        assert code == 0, output[-3000:]
    assert asked == rows * len(names)
    assert busiest <= rpm and max(per_minute) <= rpm
    assert busiest > rpm // 2  # the runs did replay side by side (one alone sends rpm / 4)
    assert peak <= concurrency


def test_the_readme_instance_settings_load():
    """The dagster.yaml of the README's "Running in parallel" is one Dagster accepts (a run
    queue with one run per partition), and the pool limit it sets is the replay's share."""
    section = (ROOT / "README.md").read_text().split("## Running in parallel", 1)[1]
    settings = yaml.safe_load(section.split("```yaml", 1)[1].split("```", 1)[0])
    command = section.split("```sh", 1)[1].split("```", 1)[0].split("#")[0].split()
    assert command[:4] == ["dagster", "instance", "concurrency", "set"]
    with instance_for_test(overrides=settings) as instance:
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 8
        assert config.run_queue_config.tag_concurrency_limits[0]["key"] == "dagster/partition"
        instance.event_log_storage.set_concurrency_slots(command[4], int(command[5]))
        assert replay_workers(build_asset_context(instance=instance), _registry()) == 4
