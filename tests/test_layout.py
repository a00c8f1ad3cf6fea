"""The layout is a contract: public names stay importable, the Dagster layer sits on plain
Python, nothing imports in a circle, and production code never loads the demo."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]

PUBLIC_NAMES = [
    ("pipeline.compare", "compare"), ("pipeline.compare", "compare_many"),
    ("pipeline.compare", "Comparison"), ("pipeline.compare", "MultiComparison"),
    ("pipeline.compare", "p_best"), ("pipeline.compare", "check_pair"),
    ("pipeline.scoring", "rouge_l"), ("pipeline.scoring", "bertscore"),
    ("pipeline.scoring", "refusal_score"), ("pipeline.scoring", "style_score"),
    ("pipeline.scoring", "language_score"), ("pipeline.scoring", "judge"),
    ("pipeline.scoring", "StyleGuide"),
    ("pipeline.active_labelling", "propose_labels"),
    ("pipeline.active_labelling", "active_estimate"),
    ("pipeline.active_labelling", "ht_ppi_estimate"),
    ("pipeline.active_labelling", "inclusion_probabilities"),
    ("pipeline.predictive", "predictive_moments"), ("pipeline.predictive", "moments_by_draws"),
    ("pipeline.predictive", "PredictiveMoments"),
    ("pipeline.cascade", "fit_cascade"), ("pipeline.cascade", "evaluate_cascade"),
    ("pipeline.cascade", "CascadeFit"), ("pipeline.cascade", "CascadeEvaluation"),
    ("pipeline.drift", "monitor_drift"), ("pipeline.drift", "DriftResult"),
    ("pipeline.cli", "main"),
    ("assets.definitions", "defs"),
]


@pytest.mark.parametrize("module, name", PUBLIC_NAMES)
def test_every_public_name_imports(module, name):
    assert getattr(importlib.import_module(module), name) is not None


def test_the_public_paths_are_the_statistical_core_itself():
    from pipeline.compare import compare
    from pipeline.stats.compare import compare as core

    assert compare is core


def test_the_llm_migrate_commands_keep_their_names():
    from pipeline.cli import parser

    commands = parser()._subparsers._group_actions[0].choices
    assert set(commands) == {"demo", "run", "decisions", "replay", "compare", "propose-labels",
                             "bi", "cascade", "report"}
    cascade = commands["cascade"].parse_args(["f.csv", "--models", "a,b,c", "--json"])
    assert cascade.models == "a,b,c" and cascade.json  # one argument, split by the command
    run = commands["run"].parse_args(["--traffic", "t.csv", "--labels", "l/*.csv", "--models",
                                      "m.yaml", "--db", "w.duckdb", "--candidates", "a/b", "c,d",
                                      "--json"])
    assert (run.traffic, run.labels, run.models, run.db) == ("t.csv", "l/*.csv", "m.yaml",
                                                              "w.duckdb")
    assert run.candidates == ["a/b", "c,d"] and run.json  # names are never split
    bi = commands["bi"]._subparsers._group_actions[0].choices
    assert set(bi) == {"publish"}
    demo = commands["demo"].parse_args(["--incumbent-live"])
    assert demo.incumbent_live


def _import_graph(*packages: str) -> nx.DiGraph:
    """Every import between the modules of ``packages``, function-local ones included (grimp
    reads every import statement), so a cycle hidden in a function counts too."""
    graph = grimp.build_graph(*packages, cache_dir=None)
    edges = nx.DiGraph()
    for module in graph.modules:
        edges.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            edges.add_edge(module, imported)
    return edges


def test_no_module_imports_in_a_circle():
    cycles = list(nx.simple_cycles(_import_graph("pipeline", "assets", "resources")))
    assert cycles == []


def test_a_cycle_hidden_in_a_function_is_found(tmp_path, monkeypatch):
    package = tmp_path / "circular"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circular.b import helper\n")
    (package / "b.py").write_text("def helper():\n    from circular import a\n    return a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert list(nx.simple_cycles(_import_graph("circular"))) != []


def test_the_layering_contracts_hold():
    """assets and resources over plain Python; stats apart from replay and demo; production
    never importing the demo (the contracts are in pyproject.toml, [tool.importlinter])."""
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_loads_no_demo_code(tmp_path):
    """With a registry of real providers and real data files, loading the code location
    imports nothing from pipeline.demo."""
    registry = tmp_path / "models.yaml"
    registry.write_text("incumbent: old\nmodels:\n"
                        "  - {name: old, provider: openai, model_id: gpt-4o}\n"
                        "  - {name: new, provider: anthropic, model_id: claude-x}\n")
    env = {**os.environ, "LLM_MIGRATE_MODELS": str(registry),
           "LLM_MIGRATE_TRAFFIC": str(tmp_path / "traffic.parquet"),
           "LLM_MIGRATE_LABELS": str(tmp_path / "labels.csv"),
           "LLM_MIGRATE_DB": str(tmp_path / "w.duckdb")}
    probe = ("import sys, assets.definitions, pipeline.cli; "
             "print(sorted(m for m in sys.modules if m.startswith('pipeline.demo')))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_demo_registry_names_the_demo_worlds_models():
    from pipeline import config
    from pipeline.demo import world

    registry = config.demo_registry()
    assert registry["incumbent"] == world.INCUMBENT and registry["offline"] is True
    assert [m["name"] for m in registry["models"]] == [world.INCUMBENT, "candidate-a",
                                                       "candidate-b"]
