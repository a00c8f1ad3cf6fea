"""The wheel carries every file the product reads at run time, and runs outside the checkout.

The slow test builds the wheel, installs it into a fresh venv outside the checkout and runs the
demo's graph there from a working directory of its own. The venv borrows the project venv's
installed dependencies through a ``.pth`` line (installing torch and PyMC again would take
minutes); the project itself comes only from the wheel: the checkout is not on its path, and
the project venv's editable-install hook is not run (a path a ``.pth`` adds is not scanned for
``.pth`` files of its own).
"""

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path, PurePosixPath

import duckdb
import pytest
import yaml
from setuptools import find_packages

from pipeline.config import PROJECT_ROOT
from pipeline.data.warehouse import TABLES_DIR, latest_version
from pipeline.demo import world as demo_world

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
# what a build never needs (and a copy of the checkout need not carry)
ANYWHERE = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*_cache", "*.duckdb*")
AT_THE_TOP = {".venv", ".git", "data", ".dagster_home", "build", "dist", "node_modules",
              ".hypothesis"}


def not_sources(folder: str, names: list[str]) -> set[str]:
    top = AT_THE_TOP.intersection(names) if Path(folder) == PROJECT_ROOT else set()
    return set(ANYWHERE(folder, names)) | top


def test_every_package_of_the_checkout_is_in_the_wheel():
    found = set(find_packages(str(PROJECT_ROOT), include=["pipeline*", "assets*", "resources*"]))
    assert set(PYPROJECT["packages"]) == found | {"pipeline.sql"}
    assert PYPROJECT["package-dir"] == {"pipeline.sql": "sql"}


def _shipped(package_dir: Path, package: str, path: Path) -> bool:
    relative = PurePosixPath(path.relative_to(package_dir))
    return any(fnmatch.fnmatch(str(relative), pattern)
               for pattern in PYPROJECT["package-data"].get(package, []))


def test_every_data_file_the_code_reads_is_package_data():
    """Every file under sql/, and every non-Python file under the packages (in folders of
    their own too), is shipped: a new sql/ folder or data file that the globs in
    pyproject.toml miss fails here, not in a pod."""
    sql = PROJECT_ROOT / "sql"
    missing = [p for p in sql.rglob("*") if p.is_file() and not _shipped(sql, "pipeline.sql", p)]
    folders = {package: PROJECT_ROOT / package.replace(".", "/")
               for package in PYPROJECT["packages"] if package != "pipeline.sql"}
    for top in ("pipeline", "assets", "resources"):
        for path in (PROJECT_ROOT / top).rglob("*"):
            if not path.is_file() or path.suffix in (".py", ".pyc") \
                    or "__pycache__" in path.parts:
                continue
            # the innermost package holding the file ships it
            package = max((name for name, folder in folders.items()
                           if folder in path.parents), key=len)
            if not _shipped(folders[package], package, path):
                missing.append(path)
    assert missing == []


def build_wheel(out: Path) -> Path:
    """``pip wheel`` of a copy of the checkout (a build writes build/ and *.egg-info beside the
    sources), without build isolation: the project venv has setuptools, and CI needs no index
    for it."""
    source = out / "source"
    shutil.copytree(PROJECT_ROOT, source, ignore=not_sources, symlinks=True)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(out / "dist"), str(source)], check=True)
    (wheel,) = (out / "dist").glob("llm_migrate-*.whl")
    return wheel


def venv_with(wheel: Path, venv: Path) -> Path:
    """A fresh venv holding only ``wheel``, its dependencies read from the project venv."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "project-venv-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "--quiet", str(wheel)], check=True)
    return python


def clean_env() -> dict:
    """The environment of a user outside the checkout: no project settings, no DAGSTER_HOME,
    nothing on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LLM_MIGRATE_", "DAGSTER_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "DAGSTER_DISABLE_TELEMETRY": "1"}


@pytest.mark.slow
def test_the_installed_wheel_runs_the_demo_graph_outside_the_checkout(tmp_path):
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    python = venv_with(wheel, venv)
    work = tmp_path / "work"
    inputs = tmp_path / "inputs"
    work.mkdir()
    inputs.mkdir()
    env = clean_env()

    where = subprocess.run(
        [str(python), "-c", "import json, assets, pipeline, resources; "
         "from pipeline.data.warehouse import SQL_DIR; from pipeline.config import DEMO_REGISTRY; "
         "print(json.dumps([m.__file__ for m in (assets, pipeline, resources)] "
         "+ [str(SQL_DIR), str(DEMO_REGISTRY)]))"],
        cwd=work, env=env, check=True, capture_output=True, text=True)
    site = str(venv.resolve())
    assert all(path.startswith(site) for path in json.loads(where.stdout)), where.stdout

    traffic = demo_world.generate_traffic(600, 5)
    traffic.to_parquet(inputs / "traffic.parquet", index=False)
    demo_world.generate_labels(traffic, 150, 5).to_csv(inputs / "labels.csv", index=False)
    (inputs / "run.yaml").write_text(yaml.safe_dump(
        {"ops": {"auto_scores": {"config": {"bertscore": False}},
                 "population_posterior": {"config": {"tune": 500}}}}))
    run = subprocess.run(
        [str(venv / "bin" / "llm-migrate"), "run", "--traffic", str(inputs / "traffic.parquet"),
         "--labels", str(inputs / "labels.csv"), "--config", str(inputs / "run.yaml"), "--json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode in (0, 1, 2), run.stderr[-3000:]
    report = json.loads(run.stdout)
    # the defaults of an installed wheel: ./data and ./.dagster_home of the working directory
    assert report["warehouse"] == str(work / "data" / "llm_migrate.duckdb")
    assert (work / ".dagster_home" / "dagster.yaml").is_file()
    assert {v["candidate"] for v in report["verdicts"]} == {"candidate-a", "candidate-b"}
    with duckdb.connect(report["warehouse"], read_only=True) as conn:
        tables = conn.execute("SELECT count(*) FROM information_schema.tables "
                              "WHERE table_type = 'BASE TABLE'").fetchone()[0]
        assert tables == len(list(TABLES_DIR.glob("*.sql")))  # every table, from the wheel's sql/
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] \
            == latest_version()
        assert conn.execute("SELECT count(*) FROM traffic").fetchone()[0] == 600
        assert conn.execute("SELECT count(*) FROM decisions").fetchone()[0] > 0
