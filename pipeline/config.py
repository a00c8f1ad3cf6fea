"""Deployment settings, read from the environment once and typed (a `.env` file works under
`dagster dev`), and the reading of a model registry file.

| variable | default | meaning |
|---|---|---|
| LLM_MIGRATE_DB | data/llm_migrate.duckdb | DuckDB database string: a file, or a service |
|   | | (``md:``, ``quack:host:port``, ``ducklake:...``; see pipeline.data.database) |
| LLM_MIGRATE_DB_ATTACH | (none) | ATTACH options of a service warehouse (DuckLake DATA_PATH) |
| LLM_MIGRATE_DB_TOKEN | unset | a Quack server's token (read through EnvVar only) |
| LLM_MIGRATE_MODELS | (the demo registry) | YAML model registry, see README |
| LLM_MIGRATE_TRAFFIC | demo | Parquet/CSV of production requests |
| LLM_MIGRATE_LABELS | demo | label file or glob |
| LLM_MIGRATE_ARTIFACTS | data | folder or fsspec URL (``s3://...``) for fits, reports, sheets |
| LLM_MIGRATE_BI_SNAPSHOT | data/llm_migrate_bi.duckdb | the BI snapshot: a file or an fsspec URL |
| LLM_MIGRATE_EXECUTOR | default | where steps run: default, in_process, multiprocess, celery, k8s |
| LLM_MIGRATE_EXECUTOR_CONFIG | (none) | YAML file with the executor's config (deploy/) |
| OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENAI_COMPATIBLE_API_KEY | unset | provider keys |

The registry's schema is the ``ModelRegistry`` resource (resources/providers.py); this module
only reads the file and words a validation error so that it names the file and the field.
Keys never come from a file: only from the environment, through Dagster ``EnvVar``.
"""

from __future__ import annotations

import os
import reprlib
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def in_checkout(root: Path = PROJECT_ROOT) -> bool:
    """Whether this code runs from the project's repository (``make``, an editable install),
    as opposed to a wheel installed into site-packages."""
    return (root / "pyproject.toml").is_file() and (root / "sql" / "tables").is_dir()


# Where files go by default: the project's data/ in a checkout (what `make demo` and `make dev`
# use), ./data in the working directory when installed from the wheel (site-packages is no
# place for a warehouse). A deployment sets every path through the environment anyway.
WORK_DIR = PROJECT_ROOT if in_checkout() else Path.cwd()
DATA_DIR = WORK_DIR / "data"
# A data file beside the code, not an import: reading it pulls no demo code into production.
DEMO_REGISTRY = Path(__file__).resolve().parent / "demo" / "registry.yaml"
SECRET_FIELDS = ("openai_api_key", "anthropic_api_key", "openai_compatible_api_key")


class Settings(BaseModel):
    """Where the pipeline reads and writes, as the environment sets it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    database: str = Field(str(DATA_DIR / "llm_migrate.duckdb"),
                          description="DuckDB database string (LLM_MIGRATE_DB)")
    database_attach: str = Field("", description="ATTACH options of a warehouse on a service, "
                                                 "e.g. DATA_PATH 's3://bucket/lake/' "
                                                 "(LLM_MIGRATE_DB_ATTACH)")
    models_file: str | None = Field(None, description="YAML model registry (LLM_MIGRATE_MODELS)")
    traffic: str = Field("demo", description="traffic source: a Parquet or CSV file, a glob, "
                         "an s3:// path, duckdb:DATABASE#table, or 'demo' (LLM_MIGRATE_TRAFFIC)")
    labels: str = Field("demo", description="label file or glob, or 'demo' (LLM_MIGRATE_LABELS)")
    demo_dir: str = Field(str(DATA_DIR / "demo"), description="where the demo world is written")
    artifacts_root: str = Field(str(DATA_DIR),
                                description="folder or fsspec URL (s3://bucket/prefix) that "
                                            "holds saved fits, reports, plots and label-queue "
                                            "sheets (LLM_MIGRATE_ARTIFACTS)")
    bi_snapshot: str = Field(str(DATA_DIR / "llm_migrate_bi.duckdb"),
                             description="the read-only DuckDB file BI opens: a path or an "
                                         "fsspec URL (LLM_MIGRATE_BI_SNAPSHOT)")

    executor: str = Field("default", description="where a run's steps execute: default "
                                                 "(Dagster's multi_or_in_process), in_process, "
                                                 "multiprocess, celery or k8s "
                                                 "(LLM_MIGRATE_EXECUTOR)")
    executor_config: str | None = Field(None, description="YAML file with the executor's config "
                                                          "(LLM_MIGRATE_EXECUTOR_CONFIG)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        given = {"database": env.get("LLM_MIGRATE_DB"),
                 "database_attach": env.get("LLM_MIGRATE_DB_ATTACH"),
                 "models_file": env.get("LLM_MIGRATE_MODELS"),
                 "traffic": env.get("LLM_MIGRATE_TRAFFIC"), "labels": env.get("LLM_MIGRATE_LABELS"),
                 "bi_snapshot": env.get("LLM_MIGRATE_BI_SNAPSHOT"),
                 "artifacts_root": env.get("LLM_MIGRATE_ARTIFACTS"),
                 "executor": env.get("LLM_MIGRATE_EXECUTOR"),
                 "executor_config": env.get("LLM_MIGRATE_EXECUTOR_CONFIG")}
        return cls(**{key: value for key, value in given.items() if value})

    @property
    def registry_file(self) -> Path:
        return Path(self.models_file) if self.models_file else DEMO_REGISTRY


def database() -> str:
    """The warehouse's database string, as LLM_MIGRATE_DB sets it."""
    return Settings.from_env().database


class RegistryError(ValueError):
    """A model registry that cannot be used; the message names the file and the field."""


MAX_REGISTRY_BYTES = 1 << 20  # a registry is a few dozen lines; past this it is not one
EXCERPT_CHARS = 120  # how much of a bad value an error message shows


class _AliasFound(Exception):
    def __init__(self, event: yaml.AliasEvent):
        self.event = event


class _RegistryLoader(yaml.SafeLoader):
    """``yaml.safe_load`` without aliases (``*name``, merge keys ``<<: *name`` included): a
    few hundred bytes of nested aliases expand into gigabytes (a "billion laughs"), which any
    code that walks, validates or prints the result then pays for. A registry is short enough
    to write out; anchors alone are harmless."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise _AliasFound(self.peek_event())
        return super().compose_node(parent, index)


def excerpt(value, limit: int = EXCERPT_CHARS) -> str:
    """A bounded ``repr`` of ``value`` for an error message: at most ``limit`` characters,
    and only the first few items of a nested value are ever looked at."""
    shown = reprlib.Repr()
    shown.maxlevel, shown.maxdict, shown.maxlist, shown.maxtuple = 3, 4, 4, 4
    shown.maxstring = shown.maxother = limit
    text = shown.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_yaml_file(path: str | Path, what: str = "model registry") -> dict:
    """A short YAML file of ours (``what``: a model registry, a run configuration) as a
    mapping; errors name the file. YAML aliases are refused, and so is a file over
    :data:`MAX_REGISTRY_BYTES`."""
    try:
        size = os.path.getsize(path)
        if size > MAX_REGISTRY_BYTES:
            raise RegistryError(f"{path}: {size} bytes is too large for a {what} "
                                f"(at most {MAX_REGISTRY_BYTES}); is it the file you meant?")
        with open(path) as handle:
            loaded = yaml.load(handle, Loader=_RegistryLoader)  # noqa: S506 - a SafeLoader
    except FileNotFoundError:
        raise RegistryError(f"{path}: {what} file not found") from None
    except _AliasFound as found:
        mark = found.event.start_mark
        raise RegistryError(f"{path}, line {mark.line + 1}: YAML aliases (*{found.event.anchor}) "
                            f"are not allowed in a {what}: write each entry out") from None
    except RecursionError:
        raise RegistryError(f"{path}: nested too deeply for a {what}") from None
    except yaml.YAMLError as error:
        raise RegistryError(f"{path}: not valid YAML: {excerpt(str(error), 300)}") from None
    return loaded


def read_registry_file(path: str | Path) -> dict:
    """The registry file as a mapping, before validation; errors name the file (see
    :func:`read_yaml_file`)."""
    loaded = read_yaml_file(path, "model registry")
    if not isinstance(loaded, dict):
        raise RegistryError(f"{path}: a model registry is a mapping with 'incumbent' and "
                            f"'models', not {type(loaded).__name__}")
    secrets = [key for key in SECRET_FIELDS if key in loaded]
    if secrets:
        raise RegistryError(f"{path}: {', '.join(secrets)}: keys are read from the environment "
                            "only (OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENAI_COMPATIBLE_API_KEY), "
                            "never from a file")
    return loaded


def demo_registry() -> dict:
    """The offline demo's registry: the incumbent and two candidates, one per SDK path."""
    return read_registry_file(DEMO_REGISTRY)


def describe_validation_error(source: str | Path, error: ValidationError, data) -> RegistryError:
    """One line per problem, each naming the file and the field (``models[0] (a).limits``)
    and showing a bounded excerpt of the value found there (at most 10 problems)."""
    problems = error.errors(include_url=False)
    lines = [f"{_field_path(problem['loc'], data)}: {problem['msg']}"
             + ("" if problem["type"] == "missing" else f" (got {excerpt(problem['input'])})")
             for problem in problems[:10]]
    if len(problems) > 10:
        lines.append(f"and {len(problems) - 10} more")
    return RegistryError(f"{source}: " + "; ".join(lines))


def _field_path(loc, data) -> str:
    """``('models', 0, 'limits', 'concurrency')`` as ``models[0] (a).limits.concurrency``,
    with the model's name where the entry has one."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int) and parts:
            entry = node[key] if isinstance(node, list) and key < len(node) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            shown = excerpt(name, 60) if not isinstance(name, str) or len(name) > 60 else name
            parts[-1] += f"[{key}]" + (f" ({shown})" if name else "")
            node = entry
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"
