"""Keys never land anywhere (#22): a provider that echoes the key it was sent, at every offset
around the cut of an error text, on the asset path (a Dagster materialization with a real
instance on disk) and the CLI path (`llm-migrate replay`, in-process). No 8-character piece of
any configured key may reach the warehouse (every table and view), the logs, stdout/stderr or
Dagster's storage (every file under its home: event log, run storage, compute logs).

The loopback provider's `echo_key` fault answers every request with an error whose message
holds the request's prompt, then the key (whole, and its first 12 characters as a hint); the
prompt's length moves the key through the message, so across the requests the 500-character
cut falls before, inside and after it at every offset."""

import json
import logging
import secrets
from pathlib import Path

import duckdb
import pandas as pd
from dagster import DagsterInstance, EnvVar, materialize

from assets import replay_responses, traffic_sample
from assets.partitions import all_models_tags
from pipeline.cli import main as cli_main
from pipeline.demo import server as offline_server
from pipeline.demo import world
from pipeline.replay.online import ERROR_LIMIT, KEY_PIECE, MASK
from resources import DataSources, ModelConfig, ModelRegistry, Warehouse

# Prompt lengths: the key starts at prefix + length in the error text; the prefixes of the
# SDKs' messages are about 95 (OpenAI) and 170 (Anthropic) characters, so this window moves
# each key across the cut at ERROR_LIMIT (checked below, not assumed).
LENGTHS = range(260, 420)


def new_keys() -> dict[str, str]:
    """Fresh keys in the providers' formats, so no piece of one occurs by chance."""
    return {"OPENAI_API_KEY": "sk-proj-" + secrets.token_urlsafe(36),
            "ANTHROPIC_API_KEY": "sk-ant-api03-" + secrets.token_urlsafe(36),
            "OPENAI_COMPATIBLE_API_KEY": "local-" + secrets.token_urlsafe(24)}


def leaks(text: str, keys) -> list[str]:
    """The pieces of KEY_PIECE characters of any key found in ``text``."""
    return [key[i:i + KEY_PIECE] for key in keys for i in range(len(key) - KEY_PIECE + 1)
            if key[i:i + KEY_PIECE] in text]


def warehouse_dump(path: Path) -> str:
    """Every value of every table and view of the warehouse, as text."""
    with duckdb.connect(str(path), read_only=True) as conn:
        names = [name for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables").fetchall()]
        return "\n".join(str(conn.execute(f'SELECT * FROM "{name}"').fetchall())
                         for name in names)


def files_dump(folder: Path) -> str:
    return "\n".join(path.read_bytes().decode("utf-8", "replace")
                     for path in folder.rglob("*") if path.is_file())


def check_the_cut_is_covered(errors: pd.DataFrame, keys: dict[str, str]) -> None:
    """The key of each model's echo started at every offset from just before the cut minus
    its length to just past the cut (the first mask in a stored error is where the key was)."""
    errors = errors.assign(length=errors["request_id"].map(lambda r: int(r.split("-")[1])),
                           at=errors["error"].str.find(MASK[0]))
    for model, rows in errors.groupby("model"):
        seen = rows[rows["at"] >= 0]
        prefixes = set(seen["at"] - seen["length"])
        assert len(prefixes) == 1, (model, prefixes)  # the key moves with the prompt
        [prefix] = prefixes
        starts = {prefix + length for length in rows["length"]}
        longest = max(len(key) for key in keys.values())
        assert set(range(ERROR_LIMIT - longest - 1, ERROR_LIMIT + 2)) <= starts, model


def traffic(tmp_path: Path) -> Path:
    frame = world.generate_traffic(len(LENGTHS), seed=5)
    frame["request_id"] = [f"r-{n}" for n in LENGTHS]
    frame["prompt"] = ["p" * n for n in LENGTHS]
    frame[["response", "model"]] = None  # no logged answers: every model is replayed
    path = tmp_path / "traffic.parquet"
    frame.to_parquet(path)
    return path


def test_an_echoed_key_is_never_stored_on_the_asset_path(tmp_path, monkeypatch, caplog, capfd):
    keys = new_keys()
    for variable, key in keys.items():
        monkeypatch.setenv(variable, key)
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "dagster_home"
    home.mkdir()
    echo, refuse = offline_server.Fault("echo_key"), offline_server.Fault("echo_key", status=401)
    with offline_server.serve(fault=echo) as server, \
            offline_server.serve(fault=refuse) as refusing:
        models = ModelRegistry(
            incumbent="gpt-old",
            models=[ModelConfig(name="gpt-old", provider="openai", model_id="incumbent-v1",
                                base_url=server.base_url),
                    ModelConfig(name="claude", provider="anthropic", model_id="candidate-a",
                                base_url=server.anthropic_base_url),
                    ModelConfig(name="local", provider="openai_compatible",
                                model_id="candidate-b", base_url=server.base_url),
                    ModelConfig(name="refused", provider="openai", model_id="candidate-a",
                                base_url=refusing.base_url)],
            openai_api_key=EnvVar("OPENAI_API_KEY"),
            anthropic_api_key=EnvVar("ANTHROPIC_API_KEY"),
            openai_compatible_api_key=EnvVar("OPENAI_COMPATIBLE_API_KEY"))
        resources = {"warehouse": Warehouse(database=str(tmp_path / "w.duckdb")),
                     "sources": DataSources(traffic=str(traffic(tmp_path)),
                                            labels=str(tmp_path / "none.csv")),
                     "models": models}
        with DagsterInstance.local_temp(tempdir=str(home)) as instance:
            instance.add_dynamic_partitions("model", models.names())
            result = materialize([traffic_sample, replay_responses], resources=resources,
                                 instance=instance, tags=all_models_tags(instance),
                                 raise_on_error=False)
            events = "\n".join(json.dumps(str(record)) for record in
                               instance.all_logs(result.run_id))
        assert refusing.faults >= 1  # the refusing provider answered, echoing its key
    assert not result.success  # `refused` stopped the replay with the provider's 401
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "the provider refused the request" in failure.step_failure_data.error.to_string()
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        errors = conn.execute("SELECT request_id, model, error FROM responses "
                              "WHERE model <> 'refused'").df()
    assert len(errors) == 3 * len(LENGTHS) and errors["error"].str.len().max() == ERROR_LIMIT
    check_the_cut_is_covered(errors, keys)
    captured = capfd.readouterr()
    for where, text in {"warehouse": warehouse_dump(tmp_path / "w.duckdb"),
                        "event log": events, "dagster storage": files_dump(home),
                        "logs": caplog.text, "stdout/stderr": captured.out + captured.err,
                        "step failure": str(failure)}.items():
        assert not leaks(text, keys.values()), where


def test_an_echoed_key_is_never_stored_on_the_cli_path(tmp_path, monkeypatch, caplog, capfd):
    keys = new_keys()
    caplog.set_level(logging.DEBUG)
    prompts = tmp_path / "prompts.csv"
    pd.DataFrame({"request_id": [f"r-{n}" for n in LENGTHS],
                  "prompt": ["p" * n for n in LENGTHS]}).to_csv(prompts, index=False)
    database = tmp_path / "cli.duckdb"
    codes = []
    with offline_server.serve(fault=offline_server.Fault("echo_key")) as server, \
            offline_server.serve(fault=offline_server.Fault("echo_key", status=401)) as refusing:
        for provider, variable, url, model in (
                ("openai", "OPENAI_API_KEY", server.base_url, "incumbent-v1"),
                ("anthropic", "ANTHROPIC_API_KEY", server.anthropic_base_url, "candidate-a"),
                ("openai", "OPENAI_API_KEY", refusing.base_url, "candidate-b")):
            monkeypatch.setenv(variable, keys[variable])
            codes.append(cli_main(["replay", str(prompts), "--provider", provider, "--model",
                                   model, "--db", str(database), "--base-url", url]))
    assert codes == [1, 1, 1]  # every request failed; the last run was refused
    captured = capfd.readouterr()
    assert "the provider refused the request" in captured.err
    with duckdb.connect(str(database), read_only=True) as conn:
        errors = conn.execute("SELECT request_id, model, error FROM responses "
                              "WHERE model <> 'candidate-b'").df()
    assert len(errors) == 2 * len(LENGTHS)
    check_the_cut_is_covered(errors, keys)
    for where, text in {"warehouse": warehouse_dump(database), "logs": caplog.text,
                        "stdout/stderr": captured.out + captured.err}.items():
        assert not leaks(text, keys.values()), where
