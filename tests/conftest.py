import os

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
