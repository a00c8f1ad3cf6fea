"""Reading production traffic and drawing the sample that gets replayed.

The source (a file, a glob of files, an object-store path or a table of an attached database:
:mod:`pipeline.data.traffic_source`) is read by DuckDB and checked there, over every row
(:mod:`pipeline.data.traffic_checks`); only the sampled rows reach Python. A month of 5.3
million requests is sampled in seconds in well under 1 GB (benchmarks/bench_sampling.py).

The sample is stratified by region with proportional allocation: each region gets its share of
``size`` (largest remainders round the shares to exactly ``size``; every region at least one
request), and within a region the requests whose key ``md5_number(request_id || ':' || seed)``
is smallest, i.e. a simple random sample without replacement. The key depends on the request
and the seed only, so the same seed and the same requests give the same sample however the
files are split or ordered, and anyone can recompute it (:func:`sample_key`).
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.data.traffic_checks import (
    NUMBERS,
    OPTIONAL_TEXT,
    REQUIRED,
    Columns,
    check_source,
)
from pipeline.data.traffic_source import VIEW, OpenedSource, TrafficFileError, TrafficSource

__all__ = ["COLUMNS", "LOGGED", "OPTIONAL", "OPTIONAL_TEXT", "REQUIRED", "TRAFFIC_COLUMNS",
           "TrafficFileError", "TrafficSample", "TrafficSource", "allocate", "read_sample",
           "read_traffic", "sample_key", "sample_traffic"]

OPTIONAL = {"language": None, "expects_refusal": False, "system": None, "reference": None}
# Production's own answer, when the export carries it: `response` and the registry `model` that
# produced it, with what production recorded of the call (pipeline.data.answers).
LOGGED = {"response": None, "model": None, "latency_ms": None, "tokens_in": None,
          "tokens_out": None, "cost_usd": None}
TRAFFIC_COLUMNS = [*REQUIRED, *OPTIONAL]  # the `traffic` table's, less sampled_at
COLUMNS = [*TRAFFIC_COLUMNS, *LOGGED]
TEXT_COLUMNS = ("request_id", "region", "prompt", "language", "system", "reference",
                "response", "model")
# DuckDB's own buffer limit while reading a source; past it, grouping and sorting spill to a
# temporary folder instead of growing (the benchmark's 50M rows stay within 4 GB).
MEMORY_LIMIT = "2GB"
# Candidates drawn per region beyond its quota, in standard deviations of the binomial count:
# a region short of candidates (about 1e-9 of draws) is drawn again from all of its rows.
SLACK_SD, SLACK_MIN = 6.0, 16


@dataclass(frozen=True)
class TrafficSample:
    """A sample and what it was drawn from: ``frame`` has :data:`COLUMNS` ordered by time,
    ``population`` counts the source's requests per region, ``quotas`` the sample's."""

    frame: pd.DataFrame
    population: dict[str, int]
    quotas: dict[str, int]


def read_traffic(source: str | Path, *, models: Sequence[str] | None = None,
                 memory_limit: str = MEMORY_LIMIT) -> pd.DataFrame:
    """Read and check every request of a traffic source (a Parquet or CSV file, a glob, an
    object-store path, or ``duckdb:DATABASE#table``: README, Input formats).

    Returns :data:`COLUMNS` in the source's order: the request (:data:`TRAFFIC_COLUMNS`) and,
    where the export has them, production's logged answer (``response``, ``model``,
    ``latency_ms``, ``tokens_in``, ``tokens_out``, ``cost_usd``; missing columns are empty).
    With ``models``, a logged answer's ``model`` must be one of them."""
    return read_sample(source, None, models=models, memory_limit=memory_limit).frame


def read_sample(source: str | Path, size: int | None, seed: int = 0, *,
                models: Sequence[str] | None = None,
                memory_limit: str = MEMORY_LIMIT) -> TrafficSample:
    """Check every request of ``source`` and draw a region-stratified random sample of exactly
    ``size`` of them (all of them, in the source's order, when ``size`` is None or not
    smaller). Raises :class:`TrafficFileError` naming the file, row and field of the first
    bad row; with ``models``, a logged answer's ``model`` must be one of them."""
    with _connection(memory_limit) as conn:
        opened = TrafficSource.parse(source).open(conn)
        columns = Columns(opened.columns())
        check_source(opened, columns, models)
        population = dict(conn.execute(
            f"SELECT {columns.text('region')} AS region, count(*) FROM {VIEW} GROUP BY ALL"
        ).fetchall())
        total = sum(population.values())
        if size is None or size >= total:
            frame = _fetch(opened, columns, f"SELECT * FROM {VIEW}", order="_pos")
            return TrafficSample(frame, population, dict(population))
        quotas = allocate(population, size)
        _pick(conn, f"SELECT *, {columns.text('request_id')} AS _id, "
                    f"{columns.text('region')} AS _region FROM {VIEW}", quotas, population, seed)
        frame = _fetch(opened, columns, "SELECT * FROM picked", order="ts, request_id")
        return TrafficSample(frame, population, quotas)


def sample_traffic(traffic: pd.DataFrame, size: int | None, seed: int = 0) -> pd.DataFrame:
    """The sample :func:`read_sample` draws, from traffic already read (:func:`read_traffic`):
    ``size`` requests, region-stratified, ordered by time (all of them, as they are, when
    ``size`` is None or not smaller). Each region keeps its share of production, so
    traffic-weighted results need no reweighting; every region keeps at least one request."""
    if size is None or size >= len(traffic):
        return traffic.reset_index(drop=True)
    ids = traffic["request_id"].astype(str)
    population = traffic["region"].astype(str).value_counts().to_dict()
    with _connection(MEMORY_LIMIT) as conn:
        conn.register("traffic_frame", pd.DataFrame(
            {"_id": ids.to_numpy(object),
             "_region": traffic["region"].astype(str).to_numpy(object)}))
        _pick(conn, "SELECT _id, _region FROM traffic_frame", allocate(population, size),
              population, seed)
        picked = [row[0] for row in conn.execute("SELECT _id FROM picked").fetchall()]
    sample = traffic[ids.isin(picked).to_numpy()]
    return sample.sort_values(["ts", "request_id"], kind="stable").reset_index(drop=True)


def allocate(population: Mapping[str, int], size: int) -> dict[str, int]:
    """Each region's share of ``size`` in proportion to its requests, rounded by largest
    remainder so that the quotas add up to exactly ``size``. A region too small for one
    request by its share gets one, and the other regions share the rest in proportion (ties go
    to the larger region, then the name)."""
    if size >= sum(population.values()):
        return dict(population)
    if size < len(population):
        raise ValueError(f"sample size {size} is smaller than the number of regions "
                         f"({len(population)}): every region needs at least one request")
    quotas, rest, seats = {}, dict(population), size
    while True:
        total = sum(rest.values())
        exact = {region: seats * n / total for region, n in rest.items()}
        small = [region for region, share in exact.items() if share < 1]
        if not small:
            break
        for region in small:
            quotas[region] = 1
            del rest[region]
        seats -= len(small)
    quotas.update({region: math.floor(share) for region, share in exact.items()})
    by_remainder = sorted(exact, key=lambda r: (math.floor(exact[r]) - exact[r],
                                                -population[r], r))
    for region in by_remainder[:seats - sum(math.floor(s) for s in exact.values())]:
        quotas[region] += 1
    return {region: quotas[region] for region in population}


def sample_key(request_id: str, seed: int) -> int:
    """The sampling key of a request, as DuckDB's ``md5_number(request_id || ':' || seed)``:
    a region's sample is its requests with the smallest keys."""
    return int.from_bytes(hashlib.md5(f"{request_id}:{seed}".encode()).digest(), "little")


def candidate_share(quota: int, requests: int) -> float:
    """The share of a region's requests kept as candidates for its ``quota``: enough that
    fewer than ``quota`` is a 6-sigma event of the binomial count."""
    return (quota + SLACK_SD * math.sqrt(quota) + SLACK_MIN) / requests


def _pick(conn, rows: str, quotas: Mapping[str, int], population: Mapping[str, int],
          seed: int) -> None:
    """The sample's rows into the temporary table ``picked``: ``rows`` selects ``_id`` and
    ``_region`` (text) and whatever else the sample should carry. One pass keeps the rows
    whose key is below a region's threshold, set for a few more candidates than its quota,
    and of those the quota with the smallest keys: the smallest of the region."""
    full = 2**128 - 1
    limits = {}
    for region, quota in quotas.items():
        share = candidate_share(quota, population[region])
        limits[region] = full if share >= 1 else int(share * 2**128)
    while True:
        conn.execute("CREATE OR REPLACE TEMP TABLE sample_quota "
                     "(_region VARCHAR, _quota BIGINT, _threshold UHUGEINT)")
        conn.executemany("INSERT INTO sample_quota VALUES (?, ?, ?::UHUGEINT)",
                         [(region, quotas[region], str(limit)) for region, limit in limits.items()])
        conn.execute(f"""
            CREATE OR REPLACE TEMP TABLE picked AS
            SELECT * EXCLUDE (_quota, _threshold) FROM (
                SELECT *, md5_number(_id || ':' || {int(seed)}) AS _key FROM ({rows})
            ) JOIN sample_quota USING (_region)
            WHERE _key <= _threshold
            QUALIFY row_number() OVER (PARTITION BY _region ORDER BY _key, _id) <= _quota""")
        found = dict(conn.execute("SELECT _region, count(*) FROM picked GROUP BY ALL").fetchall())
        short = {region for region in quotas if found.get(region, 0) < quotas[region]}
        if not short or all(limits[region] == full for region in short):
            return
        limits = {region: full if region in short else limit for region, limit in limits.items()}


def _fetch(opened: OpenedSource, columns: Columns, rows: str, order: str) -> pd.DataFrame:
    """``rows`` (a query over the source) as :data:`COLUMNS`, ordered by ``order``."""
    fields = {
        "request_id": columns.text("request_id"), "ts": columns.ts(),
        "region": columns.text("region"), "prompt": columns.text("prompt"),
        "language": columns.optional_text("language"),
        "expects_refusal": columns.expects_refusal(),
        "system": columns.optional_text("system"),
        "reference": columns.optional_text("reference"),
        "response": columns.text("response"), "model": columns.optional_text("model"),
        **{field: columns.number(field) for field in NUMBERS},
    }
    select = ", ".join(f"{sql} AS {name}" for name, sql in fields.items())
    frame = opened.conn.execute(
        f"SELECT {select} FROM ({rows}) ORDER BY {order}").df()
    for column in TEXT_COLUMNS:  # None, never NaN, where a text is absent
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame[COLUMNS]


@contextmanager
def _connection(memory_limit: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB that keeps to ``memory_limit`` (spilling to a temporary folder),
    reads times without a zone as UTC, and is gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="llm-migrate-traffic-") as spill:
        conn = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": spill,
                                      "preserve_insertion_order": False})
        try:
            conn.execute("SET TimeZone = 'UTC'")
            yield conn
        finally:
            conn.close()
