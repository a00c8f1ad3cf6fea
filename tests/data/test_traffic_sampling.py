"""The region-stratified sample DuckDB draws from a traffic source: exactly the size asked,
each region in proportion to its traffic, the same sample for the same seed and requests,
whatever files they come in."""

import pandas as pd
import pytest

from pipeline.data.traffic import (
    allocate,
    read_sample,
    read_traffic,
    sample_key,
    sample_traffic,
)


@pytest.fixture
def traffic_file(tmp_path, small_traffic):
    path = tmp_path / "traffic.parquet"
    small_traffic.to_parquet(path)
    return path


@pytest.mark.parametrize("population, size", [
    ({"us": 3000, "de": 2500, "fr": 1500, "es": 1200, "br": 1000, "it": 800}, 2000),
    ({"us": 3000, "de": 2500, "fr": 1500, "es": 1200, "br": 1000, "it": 800}, 7),
    ({"a": 1, "b": 1, "c": 1, "big": 9997}, 10),
    ({"a": 333, "b": 333, "c": 334}, 100),
    ({"a": 5, "b": 5}, 9),
])
def test_allocation_is_exact_and_proportional(population, size):
    quotas = allocate(population, size)
    total = sum(population.values())
    assert sum(quotas.values()) == size
    assert all(1 <= quotas[r] <= population[r] for r in population)
    for region, n in population.items():
        share = size * n / total
        if share >= 1:  # rounding moves a share by less than one request
            assert abs(quotas[region] - share) < 1 + sum(
                1 for m in population.values() if size * m / total < 1)


def test_allocation_by_largest_remainder():
    # shares 29.7, 24.75, 14.85, 11.88, 9.9, 7.92 of 99: floors 29+24+14+11+9+7 = 94, and the
    # five largest remainders (.99, .92, .9, .88, .85) take the five requests left
    population = {"us": 3000, "de": 2500, "fr": 1500, "es": 1200, "br": 1000, "it": 800}
    assert allocate(population, 99) == {"us": 29, "de": 25, "fr": 15, "es": 12, "br": 10,
                                        "it": 8}
    assert allocate({"a": 1, "b": 1, "big": 98}, 10) == {"a": 1, "b": 1, "big": 8}
    assert allocate(population, 20_000) == population  # asked for more than there is
    with pytest.raises(ValueError, match="smaller than the number of regions"):
        allocate(population, 5)


def test_the_sample_has_exactly_the_size_asked_in_proportion(traffic_file, small_traffic):
    for size in (100, 157, 299):
        drawn = read_sample(traffic_file, size, seed=3)
        frame = drawn.frame
        assert len(frame) == size and frame["request_id"].is_unique
        population = small_traffic["region"].value_counts().to_dict()
        assert drawn.population == population
        assert frame["region"].value_counts().to_dict() == allocate(population, size)
        assert frame["ts"].is_monotonic_increasing
    assert len(read_sample(traffic_file, None).frame) == len(small_traffic)


def test_each_region_is_a_simple_random_sample_by_the_documented_key(traffic_file,
                                                                     small_traffic):
    """A region's sample is its requests with the smallest md5 keys: anyone can recompute it."""
    drawn = read_sample(traffic_file, 60, seed=42)
    expected = set()
    for region, group in small_traffic.groupby("region"):
        ranked = sorted(group["request_id"], key=lambda request_id: sample_key(request_id, 42))
        expected |= set(ranked[:drawn.quotas[region]])
    assert set(drawn.frame["request_id"]) == expected


def test_the_same_seed_and_requests_give_the_same_sample_in_any_layout(tmp_path, traffic_file,
                                                                       small_traffic):
    once = read_sample(traffic_file, 80, seed=7).frame
    again = read_sample(traffic_file, 80, seed=7).frame
    pd.testing.assert_frame_equal(once, again)
    # the same requests, shuffled and split into Hive-style partitions by region
    shuffled = small_traffic.sample(frac=1, random_state=1)
    for region, part in shuffled.groupby("region"):
        folder = tmp_path / "export" / f"region={region}"
        folder.mkdir(parents=True)
        part.drop(columns="region").to_parquet(folder / "part-0.parquet")
    split = read_sample(str(tmp_path / "export" / "*" / "*.parquet"), 80, seed=7).frame
    pd.testing.assert_frame_equal(once, split)
    other = read_sample(traffic_file, 80, seed=8).frame
    assert set(other["request_id"]) != set(once["request_id"])


def test_sample_traffic_on_a_frame_draws_what_read_sample_draws(traffic_file, small_traffic):
    read = read_traffic(traffic_file)
    from_frame = sample_traffic(read, 90, seed=5)
    from_source = read_sample(traffic_file, 90, seed=5).frame
    assert from_frame["request_id"].tolist() == from_source["request_id"].tolist()
    assert sample_traffic(read, None).equals(read)


def test_a_region_short_of_candidates_is_drawn_from_all_its_rows(monkeypatch, traffic_file):
    """The first pass keeps no candidate at all: every region is drawn again from all its
    rows, and the sample is the same."""
    import pipeline.data.traffic as traffic

    expected = read_sample(traffic_file, 50, seed=2).frame
    monkeypatch.setattr(traffic, "candidate_share", lambda quota, requests: 0.0)
    pd.testing.assert_frame_equal(read_sample(traffic_file, 50, seed=2).frame, expected)


def test_the_sample_is_ordered_by_time_not_by_the_text_of_it(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("request_id,ts,region,prompt\n"
                    "b,2026-11-30 08:00:00-05:00,us,x\n"  # 13:00 UTC, first as text
                    "a,2026-11-30T09:00:00Z,us,y\nc,2026-11-30T10:00:00Z,de,z\n"
                    "d,2026-11-30T11:00:00Z,de,w\n")
    frame = read_sample(path, 3, seed=2).frame
    assert frame["request_id"].tolist() == ["c", "d", "b"]
