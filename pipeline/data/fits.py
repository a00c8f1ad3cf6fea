"""Saved fits: each fit's arviz InferenceData as one NetCDF file under the artifacts root
(``fits/<fit_id>/<fit_key>.nc``), with what it was fitted from in the file's attributes.

Open one with ``load_fit(uri)`` (a local path or any fsspec URL, e.g. from the ``fits``
table's ``uri``), or with ``arviz.from_netcdf(path)`` for a local file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from upath import UPath

from pipeline.data.artifacts import ArtifactStore

FOLDER = "fits"
SUFFIX = ".nc"


def fit_parts(fit_id: str, fit_key: str) -> tuple[str, str, str]:
    """The fit's path inside the artifacts root. ``fit_id`` is a Dagster run id and
    ``fit_key`` hex digits (``pipeline.stats.fits.fit_key``): names from data never reach
    a path."""
    return FOLDER, fit_id, f"{fit_key}{SUFFIX}"


def netcdf_bytes(idata, attrs: dict) -> bytes:
    """The fit as NetCDF (h5netcdf), every group carrying ``attrs`` (strings and numbers:
    JSON for anything else). Written to a temporary local file first, since HDF5 writes
    to a file, and the store may be an object store."""
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    with tempfile.TemporaryDirectory(prefix="llm-migrate-fit-") as folder:
        path = os.path.join(folder, f"fit{SUFFIX}")
        idata.to_netcdf(path, engine="h5netcdf")
        return Path(path).read_bytes()


def save_fit(store: ArtifactStore, idata, attrs: dict, fit_id: str, fit_key: str) -> str:
    """Write the fit under ``store``; returns where it is (a local path or a URL)."""
    return store.write_bytes(netcdf_bytes(idata, attrs), *fit_parts(fit_id, fit_key))


def load_fit(uri: str, **storage_options):
    """The InferenceData saved at ``uri`` (a local path or an fsspec URL), read into memory."""
    import arviz as az

    source = UPath(uri, **storage_options)
    if source.protocol in ("", "file", "local"):
        return az.from_netcdf(os.fspath(source)).load()
    with tempfile.TemporaryDirectory(prefix="llm-migrate-fit-") as folder:
        local = os.path.join(folder, f"fit{SUFFIX}")
        Path(local).write_bytes(source.read_bytes())
        return az.from_netcdf(local).load()
