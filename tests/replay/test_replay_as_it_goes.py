"""A replay stores its answers as they come, a short transaction at a time, and a request's
place among those in flight lasts until its answer is stored: a replay killed without warning
(SIGKILL) loses at most ``concurrency`` requests, which the next run sends again."""

import os
import random
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline.data.warehouse import WarehouseBusy, apply_schema
from pipeline.demo import server as offline_server
from pipeline.replay.online import Limits, ModelSpec, RetryPolicy
from pipeline.replay.store import replay_into

SPEC = ModelSpec("m", "openai", "incumbent-v1")
FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, timeout_s=10)


def _requests(n: int) -> pd.DataFrame:
    return pd.DataFrame({"request_id": [f"r{i:04d}" for i in range(n)], "system": [None] * n,
                         "prompt": [f"What is the refund policy? #{i:04d}" for i in range(n)]})


class CountingConnector:
    """Opens a short connection to ``database`` each time, and records, as each closes, how
    many replayed rows the warehouse holds; ``fail_at`` makes that open raise instead."""

    def __init__(self, database: str, fail_at: int | None = None):
        self.database, self.fail_at = database, fail_at
        self.rows_at_close: list[int] = []
        self.opens = 0

    @contextmanager
    def __call__(self):
        self.opens += 1
        if self.opens == self.fail_at:
            raise WarehouseBusy(f"warehouse {self.database}: busy (test)")
        conn = duckdb.connect(self.database)
        try:
            yield conn
        finally:
            self.rows_at_close.append(
                conn.execute("SELECT count(*) FROM responses").fetchone()[0])
            conn.close()


@pytest.fixture
def database(tmp_path):
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as conn:
        apply_schema(conn)
    return path


def test_answers_are_stored_as_they_come_in_short_transactions(database):
    connect = CountingConnector(database)
    with offline_server.serve(latency_s=0.02) as server:
        summary = replay_into(connect, _requests(40), SPEC, "k", server.base_url,
                              Limits(concurrency=4), FAST)
        assert server.peak_in_flight <= 4
    assert summary["succeeded"] == 40
    stored = connect.rows_at_close
    assert stored[0] == 0  # the cache read, before anything was sent
    assert stored[-1] == 40
    steps = [later - earlier for earlier, later in zip(stored, stored[1:])]
    # one connection per batch of answers, each batch at most the requests in flight
    assert len(steps) >= 40 // 4 and all(1 <= step <= 4 for step in steps)


def test_a_failed_write_stops_the_replay_with_its_error(database):
    connect = CountingConnector(database, fail_at=4)  # the cache read, two batches, then busy
    with offline_server.serve(latency_s=0.02) as server:
        with pytest.raises(WarehouseBusy, match="busy"):
            replay_into(connect, _requests(200), SPEC, "k", server.base_url,
                        Limits(concurrency=4), FAST)
        time.sleep(0.2)
        asked = len(server.arrival_times)
    assert asked <= 3 * 4 + 4  # what was in flight when the write failed, no more
    with duckdb.connect(database) as conn:
        stored = conn.execute("SELECT count(*) FROM responses").fetchone()[0]
    assert stored == connect.rows_at_close[-1]


def test_the_summary_and_attempts_count_across_runs(database):
    fault = offline_server.Fault("server_error", times=5, share=0.3)  # beyond two attempts
    with offline_server.serve(fault=fault) as server:
        first = replay_into(CountingConnector(database), _requests(30), SPEC, "k",
                            server.base_url, Limits(concurrency=4), FAST)
    with offline_server.serve() as server:
        second = replay_into(CountingConnector(database), _requests(30), SPEC, "k",
                             server.base_url, Limits(concurrency=4), FAST)
        assert server.requests == first["failed"]  # only the failures were sent again
    assert first["failed"] > 0 and first["retries"] == first["failed"]
    assert second["cache_hits"] == first["succeeded"] and second["failed"] == 0
    with duckdb.connect(database) as conn:
        attempts = dict(conn.execute("SELECT attempts, count(*) FROM responses GROUP BY 1")
                        .fetchall())
    assert attempts == {1: first["succeeded"], 3: first["failed"]}  # 2 then 1


# --- killed without warning ------------------------------------------------------------------

@pytest.mark.slow
def test_a_replay_killed_at_a_random_moment_resends_at_most_what_was_in_flight(tmp_path):
    """`llm-migrate replay` in its own process, killed with SIGKILL at a random moment of its
    replay; a second run completes it. The provider is asked again only for what the first
    run had in flight."""
    concurrency, n = 8, 600
    prompts = tmp_path / "prompts.parquet"
    _requests(n).to_parquet(prompts)
    database = tmp_path / "w.duckdb"
    seed = random.SystemRandom().randrange(1 << 30)
    delay = random.Random(seed).uniform(0.0, 2.0)
    with offline_server.serve(latency_s=0.05) as server:
        command = [str(Path(sys.executable).parent / "llm-migrate"), "replay", str(prompts),
                   "--provider", "openai", "--model", "incumbent-v1", "--db", str(database),
                   "--base-url", server.base_url, "--concurrency", str(concurrency),
                   "--no-redact"]
        env = {**os.environ, "OPENAI_API_KEY": "offline"}
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        while not server.arrival_times:  # its replay has begun
            assert first.poll() is None, first.communicate()
            time.sleep(0.01)
        time.sleep(delay)
        first.send_signal(signal.SIGKILL)
        first.wait()
        time.sleep(0.2)  # the server finishes answering the requests the run left behind
        asked_by_first = len(server.arrival_times)
        with duckdb.connect(str(database), read_only=True) as conn:
            kept = conn.execute("SELECT count(*) FROM responses WHERE status = 'ok'").fetchone()[0]
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr
        asked_twice = server.asked_more_than_once
        asked = len(server.arrival_times)
    note = (f"seed {seed}: killed {delay:.2f} s into the replay, {asked_by_first} asked, "
            f"{kept} stored; the rerun asked {asked_twice} again")
    print(note)
    assert 0 < asked_by_first < n, note  # killed in the middle of the replay
    assert asked_by_first - kept <= concurrency, note
    assert asked_twice <= concurrency, note
    assert asked == n + asked_twice, note
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT request_id) FROM responses "
                            "WHERE status = 'ok'").fetchone() == (n, n)


def test_an_answer_stored_meanwhile_by_another_run_is_replaced_not_doubled(database):
    """Two replays of one model at once (the README advises against it): the later answer
    replaces the earlier one, in one row."""
    requests = _requests(12)

    class Meanwhile(CountingConnector):
        """Before the first batch of answers, another run stores the answer to r0000."""

        @contextmanager
        def __call__(self):
            with super().__call__() as conn:
                if self.opens == 2:
                    conn.execute("INSERT INTO responses (request_id, model, source, status, "
                                 "attempts, request_hash, replayed_at) VALUES "
                                 "('r0000', 'm', 'replay', 'ok', 1, 'other', now())")
                yield conn

    with offline_server.serve() as server:
        summary = replay_into(Meanwhile(database), requests, SPEC, "k", server.base_url,
                              Limits(concurrency=12), FAST)
    assert summary["succeeded"] == 12
    with duckdb.connect(database) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT request_id) FROM responses"
                            ).fetchone() == (12, 12)
        assert conn.execute("SELECT request_hash <> 'other' FROM responses "
                            "WHERE request_id = 'r0000'").fetchone() == (True,)
