"""``llm-migrate replay``: the replay stage from the shell, for ad-hoc runs and scripts.

    llm-migrate replay PROMPTS --provider openai|anthropic --model NAME --db PATH
                       [--base-url URL] [--concurrency N] [--rpm N] [--refresh]
                       [--max-tokens N] [--price-in USD] [--price-out USD]
                       [--batch [--poll-interval S] [--poll-timeout S]] [--no-redact]

PROMPTS is a Parquet or CSV file with ``request_id``, ``prompt`` and optionally ``system``.
Personal data and secrets in the system prompt and the prompt (e-mail addresses, phone numbers,
cards, IBANs, national ids, keys and tokens) are replaced by placeholders such as ``[EMAIL_1]``
before anything is sent or stored (``pipeline.replay.redaction``, as ``traffic_sample`` does);
--no-redact sends the file as it is, for test sets that hold no personal data.
The key comes from OPENAI_API_KEY or ANTHROPIC_API_KEY. Responses go to the ``responses``
table of the DuckDB file as they come, a short transaction at a time (a pipeline run may write
the same file meanwhile); a JSON summary is printed. A rerun sends nothing already answered,
and after a kill only the requests that were in flight are sent again.

With --batch the requests go through the provider's batch API at half the price: the command
submits, records the batch ids in the DuckDB file, polls until the batches end and collects them.
Interrupted (or past --poll-timeout), it is simply run again: it resumes the recorded batches
instead of submitting them again. The summary adds ``batch_ids``, ``pending`` and ``unsettled``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from pipeline.cli.inputs import NO_EXTERNAL_ACCESS
from pipeline.data.database import is_local_file
from pipeline.data.warehouse import Connector, apply_schema, open_database
from pipeline.replay.batch import BatchPolicy, BatchRefused, replay_batch_into
from pipeline.replay.online import Limits, ModelSpec, ProviderRejected
from pipeline.replay.redaction import Redactor
from pipeline.replay.store import replay_into

KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


def read_prompts(path: str) -> pd.DataFrame:
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"llm-migrate replay: {path}: file not found")
    frame = pd.read_parquet(file) if file.suffix.lower() == ".parquet" else pd.read_csv(file)
    missing = [c for c in ("request_id", "prompt") if c not in frame.columns]
    if missing:
        raise SystemExit(f"llm-migrate replay: {path}: missing required column(s) {missing}")
    empty = frame["prompt"].isna() | frame["request_id"].isna()
    if empty.any():
        row = int(empty.to_numpy().nonzero()[0][0]) + 1
        raise SystemExit(f"llm-migrate replay: {path}, row {row}: empty request_id or prompt")
    if "system" not in frame.columns:
        frame["system"] = None
    frame["request_id"] = frame["request_id"].astype(str)
    return frame[["request_id", "system", "prompt"]].drop_duplicates("request_id")


def redact_requests(requests: pd.DataFrame) -> pd.DataFrame:
    """The requests with their system prompt and prompt redacted, one redactor per request (a
    value has the same placeholder in both)."""
    systems, prompts = [], []
    for system, prompt in zip(requests["system"], requests["prompt"]):
        redactor = Redactor()
        systems.append(redactor(system))
        prompts.append(redactor(prompt))
    return requests.assign(system=systems, prompt=prompts)


def run(args) -> int:
    variable = KEY_VARIABLES[args.provider]
    api_key = os.environ.get(variable)
    if not api_key:
        print(f"llm-migrate replay: set {variable} (the key is read from the environment)",
              file=sys.stderr)
        return 2
    requests = read_prompts(args.prompts)
    if not args.no_redact:
        requests = redact_requests(requests)
    spec = ModelSpec(name=args.model, provider=args.provider, model_id=args.model,
                     base_url=args.base_url, max_tokens=args.max_tokens,
                     price_in_per_mtok=args.price_in, price_out_per_mtok=args.price_out)
    connect = warehouse_connector(args.db)
    with connect() as conn:
        apply_schema(conn)
    if args.batch:
        policy = BatchPolicy(poll_interval_s=args.poll_interval, timeout_s=args.poll_timeout)
        try:
            summary = replay_batch_into(connect, requests, spec, api_key, args.base_url, policy,
                                        refresh=args.refresh)
        except BatchRefused as refused:
            print(f"llm-migrate replay: {refused}", file=sys.stderr)
            return 1
    else:
        try:
            summary = replay_into(connect, requests, spec, api_key, args.base_url,
                                  Limits(concurrency=args.concurrency, rpm=args.rpm),
                                  refresh=args.refresh)
        except ProviderRejected as rejected:
            print(json.dumps(rejected.summary))
            print(f"llm-migrate replay: {rejected}", file=sys.stderr)
            return 1
    print(json.dumps(summary))
    return 0 if summary["failed"] == 0 and not summary.get("pending") else 1


def warehouse_connector(database: str) -> Connector:
    """Short connections to ``database``, one per write, each waiting out another process's
    lock (a run of the pipeline writing the same file). Written to, so not read-only; a file
    someone handed over still runs nothing outside it."""
    config = NO_EXTERNAL_ACCESS if is_local_file(database) else {}

    @contextmanager
    def connect() -> Iterator[duckdb.DuckDBPyConnection]:
        conn = open_database(database, config=config)
        try:
            yield conn
        finally:
            conn.close()
    return connect


def positive_seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def positive_rate(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number per minute, got {text}")
    return value


def positive_count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def add_parser(commands) -> None:
    parser = commands.add_parser("replay", help="replay a prompt file against one model",
                                 description=__doc__)
    parser.add_argument("prompts", metavar="PROMPTS")
    parser.add_argument("--provider", choices=sorted(KEY_VARIABLES), required=True)
    parser.add_argument("--model", required=True, help="the provider's model id")
    parser.add_argument("--db", required=True, help="DuckDB file to write responses to")
    parser.add_argument("--base-url", default=None, help="e.g. an OpenAI-compatible server")
    parser.add_argument("--concurrency", type=positive_count, default=16)
    parser.add_argument("--rpm", type=positive_rate, default=None, help="requests per minute")
    parser.add_argument("--max-tokens", type=positive_count, default=512)
    parser.add_argument("--price-in", type=float, default=0.0, help="USD per million input tokens")
    parser.add_argument("--price-out", type=float, default=0.0,
                        help="USD per million output tokens")
    parser.add_argument("--refresh", action="store_true", help="ignore cached responses")
    parser.add_argument("--batch", action="store_true",
                        help="use the provider's batch API (half price, up to 24 h; resumable)")
    parser.add_argument("--poll-interval", type=positive_seconds, default=30.0,
                        help="with --batch: seconds between status checks (default 30)")
    parser.add_argument("--poll-timeout", type=positive_seconds, default=24 * 3600.0,
                        help="with --batch: seconds to wait before leaving the batches to a "
                             "later run (default 86400)")
    parser.add_argument("--no-redact", action="store_true",
                        help="send and store system prompts and prompts as they are, without "
                             "replacing personal data and secrets by placeholders (only for "
                             "test sets that hold none)")
    parser.set_defaults(run=run)
