import os
import subprocess

import pytest

# The product never reaches a model hub; tests must not either.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

from pipeline.demo import world as demo_world  # noqa: E402


@pytest.fixture(scope="session")
def small_traffic():
    return demo_world.generate_traffic(300, seed=11)


@pytest.fixture
def demo_models():
    """The offline demo's model registry (its incumbent retired, as in `make demo`)."""
    from pipeline.config import DEMO_REGISTRY
    from resources import ModelRegistry

    return ModelRegistry.from_file(DEMO_REGISTRY)


@pytest.fixture
def run_cli(capsys):
    """``llm-migrate ARGS...`` in this process (compiled models and imports are reused), as a
    CompletedProcess: returncode, stdout, stderr. A test of the command as a separate
    process, where that is the point, runs it in a subprocess itself."""
    from pipeline.cli import main

    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()  # what came before is not this command's
        message = ""
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's usage errors, sys.exit("message")
            code = exit_.code if isinstance(exit_.code, int) else 1
            message = "" if isinstance(exit_.code, int) or exit_.code is None else str(exit_.code)
        out, err = capsys.readouterr()
        err += message  # what the interpreter prints on such an exit
        return subprocess.CompletedProcess(["llm-migrate", *args], code, out, err)
    return run
