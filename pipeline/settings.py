"""Deployment settings read from the environment (a `.env` file works under `dagster dev`).

| variable | default | meaning |
|---|---|---|
| LLM_MIGRATE_DB | data/llm_migrate.duckdb | DuckDB file (or `md:` MotherDuck database) |
| LLM_MIGRATE_MODELS | (demo registry) | YAML model registry, see README |
| LLM_MIGRATE_TRAFFIC | demo | Parquet/CSV of production requests |
| LLM_MIGRATE_LABELS | demo | label file or glob |
| OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENAI_COMPATIBLE_API_KEY | unset | provider keys |
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from pipeline import demo_world

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


def database() -> str:
    return os.environ.get("LLM_MIGRATE_DB", str(DATA_DIR / "llm_migrate.duckdb"))


def demo_registry() -> dict:
    """The offline demo: the incumbent and two candidates, reached through all three SDK paths."""
    providers = {demo_world.INCUMBENT: "openai", "candidate-a": "anthropic",
                 "candidate-b": "openai_compatible"}
    return {
        "incumbent": demo_world.INCUMBENT,
        "offline": True,
        "models": [
            {"name": name, "provider": provider, "model_id": name,
             "price_in_per_mtok": 1.0, "price_out_per_mtok": 4.0}
            for name, provider in providers.items()
        ],
    }


def registry() -> dict:
    """The model registry: the YAML file named by LLM_MIGRATE_MODELS, or the demo."""
    path = os.environ.get("LLM_MIGRATE_MODELS")
    if not path:
        return demo_registry()
    with open(path) as handle:
        loaded = yaml.safe_load(handle) or {}
    for key in ("incumbent", "models"):
        if key not in loaded:
            raise ValueError(f"{path}: model registry lacks '{key}'")
    return loaded
