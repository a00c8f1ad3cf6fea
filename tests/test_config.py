"""Settings from the environment and the reading of a registry file (pipeline.config)."""

import pytest
from pydantic import ValidationError

from pipeline.config import DATA_DIR, DEMO_REGISTRY, RegistryError, Settings, read_registry_file


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
