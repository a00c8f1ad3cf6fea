"""Settings from the environment and the reading of a registry file (pipeline.config)."""

import time

import pytest
from pydantic import ValidationError

from pipeline.config import DATA_DIR, DEMO_REGISTRY, RegistryError, Settings, read_registry_file
from resources import ModelRegistry


def test_settings_come_from_the_environment_with_the_demo_as_default():
    default = Settings.from_env({})
    assert default.database == str(DATA_DIR / "llm_migrate.duckdb")
    assert default.registry_file == DEMO_REGISTRY and default.traffic == "demo"
    given = Settings.from_env({"LLM_MIGRATE_DB": "md:prod", "LLM_MIGRATE_MODELS": "m.yaml",
                               "LLM_MIGRATE_TRAFFIC": "t.parquet", "LLM_MIGRATE_LABELS": "l/*.csv"})
    assert (given.database, str(given.registry_file), given.traffic, given.labels) == (
        "md:prod", "m.yaml", "t.parquet", "l/*.csv")


def test_settings_reject_an_unknown_field():
    with pytest.raises(ValidationError, match="databse"):
        Settings(databse="x.duckdb")


@pytest.mark.parametrize("text, message", [
    ("incumbent: a\nopenai_api_key: sk-live-123\nmodels: []\n",
     "openai_api_key: keys are read from the environment only"),
    ("incumbent: [unclosed\n", "not valid YAML"),
    ("- a\n- b\n", "a model registry is a mapping"),
])
def test_a_registry_file_that_cannot_be_used_names_the_file(tmp_path, text, message):
    path = tmp_path / "models.yaml"
    path.write_text(text)
    with pytest.raises(RegistryError, match=message) as caught:
        read_registry_file(path)
    assert str(caught.value).startswith(str(path))
    assert "sk-live-123" not in str(caught.value)


def test_a_missing_registry_file_is_named(tmp_path):
    with pytest.raises(RegistryError, match="models.yaml: model registry file not found"):
        read_registry_file(tmp_path / "models.yaml")


def billion_laughs() -> str:
    """The classic alias bomb as models[0]: nine levels of nine aliases, 9**9 strings."""
    lines = ["incumbent: a", "models:", "- &a [" + ",".join(['"lol"'] * 9) + "]"]
    for previous, anchor in zip("abcdefgh", "bcdefghi"):
        lines.append(f"- &{anchor} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_fails_at_once(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(billion_laughs())
    assert path.stat().st_size < 500
    started = time.perf_counter()
    with pytest.raises(RegistryError, match=r"line 4: YAML aliases \(\*a\) are not allowed"):
        ModelRegistry.from_file(path)
    assert time.perf_counter() - started < 1.0  # generous: it takes milliseconds


def test_a_merge_key_alias_is_refused_too(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("incumbent: a\nbase: &base {provider: openai}\n"
                    "models:\n  - {<<: *base, name: a, model_id: x}\n")
    with pytest.raises(RegistryError, match=r"line 4: YAML aliases \(\*base\)"):
        read_registry_file(path)


def test_a_huge_registry_file_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("incumbent: a\nmodels: []\n# " + "x" * (2 << 20) + "\n")
    with pytest.raises(RegistryError, match="too large for a model registry"):
        read_registry_file(path)


def test_an_error_shows_a_bounded_excerpt_of_the_bad_entry(tmp_path):
    path = tmp_path / "models.yaml"
    huge = "y" * 20_000
    path.write_text(f"incumbent: a\nmodels:\n  - [{', '.join(['q'] * 5_000)}]\n"
                    f"  - {{name: {huge}, provider: openaii, model_id: x}}\n")
    with pytest.raises(RegistryError) as caught:
        ModelRegistry.from_file(path)
    message = str(caught.value)
    assert len(message) < 1500
    assert "models[0]: Input should be a valid dictionary" in message
    assert "(got ['q', 'q', 'q', 'q', ...])" in message
    assert "provider: Input should be 'openai'" in message and "(got 'openaii')" in message
