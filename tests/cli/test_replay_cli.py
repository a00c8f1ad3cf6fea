"""`llm-migrate replay` as a user runs it: real HTTP, a real DuckDB file; the first test in a
subprocess as from a shell, the others in this process (the same command, without the cost of
starting Python again)."""

import json
import os
import subprocess
import sys

import duckdb
import pytest

from pipeline.demo import server as offline_server

SUMMARY_KEYS = {"requests", "succeeded", "failed", "retries", "cache_hits", "cost_usd",
                "latency_p50_ms", "latency_p95_ms"}


@pytest.fixture
def replay(run_cli, monkeypatch):
    """``llm-migrate replay ARGS`` in this process, with only ``variable`` set to ``key``."""
    def run(*args, key="sk-cli-secret-42", variable="ANTHROPIC_API_KEY"):
        for name in [k for k in os.environ if k.endswith("_API_KEY")]:
            monkeypatch.delenv(name)
        if key:
            monkeypatch.setenv(variable, key)
        return run_cli("replay", *args)
    return run


def replay_process(*args, key="sk-cli-secret-42", variable="ANTHROPIC_API_KEY"):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    if key:
        env[variable] = key
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "replay", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_replay_then_rerun_hits_the_cache(tmp_path, small_traffic):
    prompts = tmp_path / "prompts.csv"
    small_traffic.head(15)[["request_id", "system", "prompt"]].to_csv(prompts, index=False)
    database = tmp_path / "out.duckdb"
    args = [str(prompts), "--provider", "anthropic", "--model", "candidate-a",
            "--db", str(database), "--concurrency", "4"]
    with offline_server.serve(api_key="sk-cli-secret-42") as server:
        first = replay_process(*args, "--base-url", server.anthropic_base_url)
        second = replay_process(*args, "--base-url", server.anthropic_base_url)
        assert server.requests == 15  # the rerun sent nothing
    assert first.returncode == 0, first.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert set(one) == SUMMARY_KEYS
    assert one["succeeded"] == 15 and one["cache_hits"] == 0 and one["failed"] == 0
    assert two["cache_hits"] == one["succeeded"] and two["succeeded"] == 0
    assert "sk-cli-secret-42" not in first.stdout + first.stderr + second.stdout + second.stderr
    with duckdb.connect(str(database)) as conn:
        assert conn.execute(
            "SELECT count(*) FROM responses WHERE model = 'candidate-a'").fetchone()[0] == 15


def test_missing_key_and_bad_file_are_clear(tmp_path, replay):
    missing = replay("nope.csv", "--provider", "openai", "--model", "m", "--db", "x.duckdb",
                      key=None)
    assert missing.returncode == 2 and "set OPENAI_API_KEY" in missing.stderr
    bad = tmp_path / "p.csv"
    bad.write_text("id,prompt\n1,hi\n")
    result = replay(str(bad), "--provider", "openai", "--model", "m", "--db",
                     str(tmp_path / "x.duckdb"), variable="OPENAI_API_KEY")
    assert result.returncode != 0 and "missing required column(s) ['request_id']" in result.stderr


def test_limits_must_be_positive(tmp_path, replay):
    base = ["p.csv", "--provider", "openai", "--model", "m", "--db", str(tmp_path / "x.duckdb")]
    for flag, value, message in (("--concurrency", "0", "must be at least 1, got 0"),
                                 ("--rpm", "-60", "must be a positive number per minute")):
        result = replay(*base, flag, value, variable="OPENAI_API_KEY")
        assert result.returncode == 2 and f"argument {flag}: {message}" in result.stderr


def test_a_refused_key_exits_non_zero_with_the_summary_and_a_clear_message(tmp_path, small_traffic,
                                                                          replay):
    prompts = tmp_path / "prompts.csv"
    small_traffic.head(12)[["request_id", "system", "prompt"]].to_csv(prompts, index=False)
    with offline_server.serve(api_key="sk-right-key") as server:
        result = replay(str(prompts), "--provider", "openai", "--model", "incumbent-v1",
                         "--db", str(tmp_path / "x.duckdb"), "--base-url", server.base_url,
                         "--concurrency", "2", key="sk-wrong-key", variable="OPENAI_API_KEY")
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert set(summary) == SUMMARY_KEYS and summary["failed"] == 12 and summary["succeeded"] == 0
    assert "the provider refused the request" in result.stderr
    assert "AuthenticationError" in result.stderr
    assert "sk-wrong-key" not in result.stdout + result.stderr
