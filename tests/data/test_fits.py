"""Saved fits: one NetCDF per fit under the artifacts root (a folder or any fsspec URL), its
provenance in the file's attributes; names from the data never reach a path."""

import arviz as az
import numpy as np
import pandas as pd
import pytest

from pipeline.data.artifacts import ArtifactStore
from pipeline.data.fits import load_fit, save_fit
from pipeline.stats.fits import data_hash, fit_key


def small_fit():
    rng = np.random.default_rng(0)
    return az.from_dict(posterior={"bias": rng.normal(size=(2, 50, 3))},
                        coords={"region": ["de", "a/b", "../x"]}, dims={"bias": ["region"]},
                        sample_stats={"diverging": np.zeros((2, 50), dtype=bool)})


@pytest.mark.parametrize("root", ["local", "memory://llm-migrate-fits"])
def test_a_fit_is_saved_and_opened_with_its_provenance(tmp_path, root):
    store = ArtifactStore(tmp_path / "artifacts" if root == "local" else root)
    uri = save_fit(store, small_fit(), {"fit_id": "run-1", "config": '{"tune": 5}'},
                   "run-1", fit_key("paired", "style", ["../x", "a/b"]))
    assert uri.startswith(str(store.root)) and "/fits/run-1/" in uri and uri.endswith(".nc")
    opened = load_fit(uri)
    assert opened.posterior.attrs["fit_id"] == "run-1"
    assert opened.sample_stats.attrs["config"] == '{"tune": 5}'  # every group carries them
    assert list(opened.posterior["bias"].coords["region"].values) == ["de", "a/b", "../x"]
    np.testing.assert_array_equal(opened.posterior["bias"].values,
                                  small_fit().posterior["bias"].values)


def test_the_key_and_the_hash_depend_on_content_only():
    key = fit_key("paired", "style", ["a/b", "../x"], False)
    assert len(key) == 16 and set(key) <= set("0123456789abcdef")
    assert key != fit_key("paired", "style", ["a/b"], False)
    frame = pd.DataFrame({"request_id": ["r1", "r2", "r3"], "model": ["m", "m", "n"],
                          "human": [1.0, np.nan, 3.0]})
    shuffled = frame.sample(frac=1.0, random_state=3).set_index(pd.Index([7, 8, 9]))
    assert data_hash(frame) == data_hash(shuffled[["human", "model", "request_id"]])
    assert data_hash(frame) != data_hash(frame.assign(human=[1.0, np.nan, 4.0]))
