"""Replay through the providers' batch APIs (OpenAI Batch, Anthropic Message Batches): results
within 24 hours at half the price.

submit → poll → collect, with each batch recorded in DuckDB (``batches``, ``batch_requests``)
before it is sent, so a run that dies at any point is resumed by the next run instead of
submitting, and paying for, the same requests again. Outcomes land in ``responses`` exactly as
the online replay writes them: the same ``request_hash`` (so both modes share one cache), one
row per request, failures included and sent again by the next run.

A submission is recorded as ``submitting`` under its own id before the create call and carries
that id to the provider (OpenAI: batch metadata; both: the prefix of every ``custom_id``). When
the call's reply is lost, or the run dies before recording the provider's answer, the provider's
list of batches tells whether it was accepted: it is then adopted, never sent twice.

No warehouse connection is held while the provider is asked or waited for (a create, a poll
that may last hours, a download of results): each step opens one (``connect``, a
:data:`~pipeline.data.warehouse.Connector`) for its own short transaction, so other runs write
meanwhile.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import anthropic
import openai
import pandas as pd

from pipeline.data.warehouse import Connector, connector, insert_frame
from pipeline.replay.online import (
    ERROR_LIMIT,
    Completion,
    ModelSpec,
    describe_error,
    mask_secrets,
    mean_logprob,
    request_hash,
    scrub_exception,
    system_for,
)
from pipeline.replay.store import (
    RESPONSE_COLUMNS,
    response_frame,
    split_cached,
    store_replayed,
    summarise,
)

BATCH_PROVIDERS = ("openai", "anthropic")
# The providers' own per-batch request limits.
MAX_BATCH_REQUESTS = {"openai": 50_000, "anthropic": 100_000}
OPENAI_ENDPOINT = "/v1/chat/completions"
SUBMISSION_KEY = "llm_migrate_submission"  # OpenAI batch metadata: the submission's own id
# How much earlier than our record of a submission the provider may date its batch: clocks
# differ, and listing stops at batches older than this.
CLOCK_SKEW = pd.Timedelta(minutes=15)


@dataclass(frozen=True)
class BatchPolicy:
    """How a batch replay waits: a status read every ``poll_interval_s`` for at most
    ``timeout_s`` in this run (an unfinished batch stays recorded and the next run resumes it),
    and at most ``max_requests`` per batch (None: the provider's limit)."""

    poll_interval_s: float = 30.0
    timeout_s: float = 24 * 3600.0
    max_requests: int | None = None


@dataclass(frozen=True)
class BatchStatus:
    provider_status: str  # the provider's own word: in_progress, completed, expired, ended...
    ended: bool  # no further change is coming; results (possibly none) can be collected


@dataclass(frozen=True)
class Outcome:
    """One request's result inside a batch: a completion or an error description."""

    completion: Completion | None = None
    error: str | None = None


class BatchLost(Exception):
    """The provider does not know a recorded batch (deleted, or a key of another project)."""


class BatchRefused(RuntimeError):
    """The provider refused to create a batch (a 4xx answer: the key, the access, the model,
    the file): nothing was created, the submission is ``not_accepted``, and its requests are
    sent again by the next run."""

    def __init__(self, model: str, status: int, reason: str):
        hint = ("check the API key, the model id and the base URL" if status in (401, 403, 404)
                else "its requests are sent again by the next run")
        super().__init__(f"{model}: the provider refused the batch, so nothing was submitted; "
                         f"{hint}. {reason}")


# --- building requests: the same content as the online replay sends -------------------------

def openai_batch_line(spec: ModelSpec, custom_id: str, system, prompt: str) -> dict:
    """One line of an OpenAI batch input file, with the body the online replay would send."""
    system = system_for(spec, system)
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}
    ]
    body = {"model": spec.model_id, "messages": messages, "max_tokens": spec.max_tokens}
    if spec.temperature is not None:
        body["temperature"] = spec.temperature
    if spec.logprobs:
        body["logprobs"] = True
    return {"custom_id": custom_id, "method": "POST", "url": OPENAI_ENDPOINT, "body": body}


def anthropic_batch_request(spec: ModelSpec, custom_id: str, system, prompt: str) -> dict:
    """One request of an Anthropic message batch, with the params the online replay sends."""
    system = system_for(spec, system)
    params = {"model": spec.model_id, "max_tokens": spec.max_tokens,
              "messages": [{"role": "user", "content": prompt}]}
    if system:
        params["system"] = system
    if spec.temperature is not None:
        params["temperature"] = spec.temperature
    return {"custom_id": custom_id, "params": params}


# --- the providers: create, status, results --------------------------------------------------

# Error class names as the SDKs name them for the same HTTP status, so batch and online
# failures group together in `responses.error`.
_STATUS_CLASSES = {400: "BadRequestError", 401: "AuthenticationError",
                   403: "PermissionDeniedError", 404: "NotFoundError", 409: "ConflictError",
                   422: "UnprocessableEntityError", 429: "RateLimitError"}
_ANTHROPIC_ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401,
                           "permission_error": 403, "not_found_error": 404,
                           "rate_limit_error": 429, "api_error": 500, "overloaded_error": 529}


def _error_class(status: int | None) -> str:
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    return "InternalServerError" if status and status >= 500 else "APIStatusError"


def openai_outcome(entry: dict) -> Outcome:
    """A line of an OpenAI batch output or error file, as an Outcome."""
    if entry.get("error"):
        error = entry["error"]
        return Outcome(error=f"BatchRequestError: {error.get('code')}: {error.get('message')}")
    response = entry.get("response") or {}
    status, body = response.get("status_code"), response.get("body") or {}
    if status != 200:
        detail = body.get("error") if isinstance(body.get("error"), dict) else body
        message = detail.get("message", detail) if isinstance(detail, dict) else detail
        return Outcome(error=f"{_error_class(status)}: Error code: {status} - {message}")
    try:
        usage = body.get("usage") or {}
        choice = body["choices"][0]
        return Outcome(Completion(choice["message"].get("content") or "",
                                  int(usage.get("prompt_tokens", 0)),
                                  int(usage.get("completion_tokens", 0)),
                                  mean_logprob(choice)))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        return Outcome(error=f"APIResponseValidationError: unreadable batch result: {exc!r}")


def anthropic_outcome(result) -> Outcome:
    """The ``result`` of an Anthropic batch results line (the SDK's typed object)."""
    if result.type == "succeeded":
        message = result.message
        text = "".join(block.text for block in message.content if block.type == "text")
        return Outcome(Completion(text, message.usage.input_tokens, message.usage.output_tokens))
    if result.type == "errored":
        error = result.error.error
        status = _ANTHROPIC_ERROR_STATUS.get(error.type)
        return Outcome(error=f"{_error_class(status)}: {error.type}: {error.message}")
    return Outcome(error=f"Batch{result.type.capitalize()}: the batch ended before this "
                         "request ran")  # canceled or expired


class _OpenAIBatches:
    """Files + Batches: upload the JSONL, create the batch, read output and error files."""

    sdk = openai

    def __init__(self, api_key: str, base_url: str | None):
        self.client = openai.OpenAI(api_key=api_key, base_url=base_url)

    def create(self, lines: list[dict], submission_id: str) -> tuple[str, str]:
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        upload = self.client.files.create(file=("requests.jsonl", data, "application/jsonl"),
                                          purpose="batch")
        # No automatic retry: a create whose reply was lost may have been accepted, and a
        # blind retry would bill the batch twice. `find_submission` settles it instead.
        batch = self.client.with_options(max_retries=0).batches.create(
            input_file_id=upload.id, endpoint=OPENAI_ENDPOINT, completion_window="24h",
            metadata={SUBMISSION_KEY: submission_id})
        return batch.id, upload.id

    def find_submission(self, submission_id: str, request_count: int, since: pd.Timestamp,
                        known: set[str]) -> list[tuple[str, str | None]]:
        """[(batch id, input file id)] of the batch tagged with ``submission_id``, or []."""
        for batch in self.client.batches.list(limit=100):  # newest first, every page
            if pd.Timestamp(batch.created_at, unit="s", tz="UTC") < since:
                break
            if (batch.metadata or {}).get(SUBMISSION_KEY) == submission_id:
                return [(batch.id, batch.input_file_id)]
        return []

    def status(self, batch_id: str) -> BatchStatus:
        batch = self.client.batches.retrieve(batch_id)
        ended = batch.status in ("completed", "failed", "expired", "cancelled")
        return BatchStatus(batch.status, ended)

    def results(self, batch_id: str) -> dict[str, Outcome]:
        batch = self.client.batches.retrieve(batch_id)
        outcomes = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            for line in self.client.files.content(file_id).text.splitlines():
                if line.strip():
                    entry = json.loads(line)
                    outcomes[entry["custom_id"]] = openai_outcome(entry)
        return outcomes

    def close(self) -> None:
        self.client.close()


class _AnthropicBatches:
    """Message Batches: create with the requests inline, read results from ``results_url``."""

    sdk = anthropic

    def __init__(self, api_key: str, base_url: str | None):
        self.client = anthropic.Anthropic(api_key=api_key, base_url=base_url)

    def create(self, requests: list[dict], submission_id: str) -> tuple[str, None]:
        # No automatic retry, for the same reason as OpenAI's create. Message batches take no
        # metadata: the submission id travels as the prefix of every custom_id.
        batch = self.client.with_options(max_retries=0).messages.batches.create(requests=requests)
        return batch.id, None

    def find_submission(self, submission_id: str, request_count: int, since: pd.Timestamp,
                        known: set[str]) -> list[tuple[str, None]]:
        """Batches that may be ``submission_id``: created since ``since``, of its size and not
        recorded locally. Where several qualify, an ended one whose results carry the
        submission's custom_ids settles it, and ended ones that do not are ruled out."""
        candidates = []
        for batch in self.client.messages.batches.list(limit=100):  # newest first, every page
            if batch.created_at < since:
                break
            counts = batch.request_counts
            size = (counts.processing + counts.succeeded + counts.errored + counts.canceled
                    + counts.expired)
            if size == request_count and batch.id not in known:
                candidates.append(batch)
        if len(candidates) > 1:
            ended = [batch for batch in candidates if batch.processing_status == "ended"]
            carrying = [batch for batch in ended if self._carries(batch.id, submission_id)]
            candidates = carrying or [b for b in candidates if b.processing_status != "ended"]
        return [(batch.id, None) for batch in candidates]

    def _carries(self, batch_id: str, submission_id: str) -> bool:
        first = next(iter(self.client.messages.batches.results(batch_id)), None)
        return first is not None and first.custom_id.startswith(f"{submission_id}-")

    def status(self, batch_id: str) -> BatchStatus:
        batch = self.client.messages.batches.retrieve(batch_id)
        return BatchStatus(batch.processing_status, batch.processing_status == "ended")

    def results(self, batch_id: str) -> dict[str, Outcome]:
        return {line.custom_id: anthropic_outcome(line.result)
                for line in self.client.messages.batches.results(batch_id)}

    def close(self) -> None:
        self.client.close()


def batch_gateway(spec: ModelSpec, api_key: str, base_url: str | None = None):
    """The batch client for ``spec``'s provider (``base_url`` overrides ``spec.base_url``)."""
    gateway = _OpenAIBatches if spec.provider == "openai" else _AnthropicBatches
    return gateway(api_key, base_url or spec.base_url)


# --- the warehouse: what was submitted, what is still open -----------------------------------

def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _in_transaction(conn, work) -> None:
    conn.execute("BEGIN")
    try:
        work()
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def record_submission(conn, submission_id: str, spec: ModelSpec, mapping: pd.DataFrame) -> None:
    """Record a batch about to be sent, as ``submitting`` under its own id, with its requests
    (``custom_id``, ``request_id``, ``request_hash``), in one transaction: from here on no run
    sends these requests again until the provider's answer, or its list of batches, says the
    batch was not accepted."""
    batch = pd.DataFrame([{
        "batch_id": submission_id, "model": spec.name, "provider": spec.provider,
        "status": "submitting", "provider_status": None, "input_file_id": None,
        "request_count": len(mapping), "submitted_at": _now(),
    }])

    def write() -> None:
        insert_frame(conn, "batches", batch)
        insert_frame(conn, "batch_requests", mapping.assign(batch_id=submission_id))
    _in_transaction(conn, write)


def record_acceptance(conn, submission_id: str, batch_id: str,
                      input_file_id: str | None) -> None:
    """The provider accepted the submission as ``batch_id``: its rows take the provider's id."""
    def write() -> None:
        conn.execute("UPDATE batch_requests SET batch_id = ? WHERE batch_id = ?",
                     [batch_id, submission_id])
        conn.execute("UPDATE batches SET batch_id = ?, status = 'submitted', input_file_id = ? "
                     "WHERE batch_id = ?", [batch_id, input_file_id, submission_id])
    _in_transaction(conn, write)


def settle_submission(connect: Connector, gateway, submission_id: str,
                      absent_means_refused: bool = True) -> str | None:
    """Ask the provider what became of a submission whose outcome we never saw. Adopts the
    batch it became (returns its id); if the provider lists no such batch, marks it
    ``not_accepted`` (None; its requests are sent again) when ``absent_means_refused``; where
    the provider's list cannot tell, it stays ``submitting`` (None)."""
    connect = connector(connect)
    with connect() as conn:
        request_count, started = conn.execute(
            "SELECT request_count, submitted_at FROM batches WHERE batch_id = ?", [submission_id]
        ).fetchone()
        known = {row[0] for row in conn.execute(
            "SELECT batch_id FROM batches WHERE status <> 'submitting'").fetchall()}
    found = gateway.find_submission(submission_id, request_count,
                                    pd.Timestamp(started).tz_convert("UTC") - CLOCK_SKEW, known)
    if len(found) == 1:
        [(batch_id, input_file_id)] = found
        with connect() as conn:
            record_acceptance(conn, submission_id, batch_id, input_file_id)
        return batch_id
    if not found and absent_means_refused:
        with connect() as conn:
            _note_status(conn, submission_id, None, new_state="not_accepted")
    return None


def batches_in_state(conn, spec: ModelSpec, status: str) -> list[str]:
    """This model's batches in ``status``, oldest first: 'submitting' ones are submissions whose
    outcome an earlier run never saw, 'submitted' ones are accepted and not yet collected."""
    rows = conn.execute(
        "SELECT batch_id FROM batches WHERE model = ? AND provider = ? AND status = ? "
        "ORDER BY submitted_at", [spec.name, spec.provider, status],
    ).fetchall()
    return [row[0] for row in rows]


def requests_in(conn, batch_ids: list[str]) -> set[str]:
    """Request ids carried by these batches."""
    if not batch_ids:
        return set()
    rows = conn.execute("SELECT request_id FROM batch_requests WHERE list_contains(?, batch_id)",
                        [batch_ids]).fetchall()
    return {row[0] for row in rows}


def _note_status(conn, batch_id: str, status: str, new_state: str | None = None) -> None:
    conn.execute(
        "UPDATE batches SET provider_status = ?, status = coalesce(?, status) WHERE batch_id = ?",
        [status, new_state, batch_id],
    )


# --- submit, poll, collect --------------------------------------------------------------------

def _refused(exc: Exception, sdk) -> bool:
    """The provider answered the create with a refusal, so no batch exists."""
    return isinstance(exc, sdk.APIStatusError) and exc.status_code < 500


def submit(connect: Connector, gateway, todo: pd.DataFrame, spec: ModelSpec, max_requests: int,
           secret: str = "") -> list[str]:
    """Send ``todo`` (``request_id``, ``system``, ``prompt``) as batches of at most
    ``max_requests``, each recorded before it is sent. Returns the provider's batch ids.

    A create the provider refuses (a 4xx answer) marks the submission ``not_accepted`` and
    raises :class:`BatchRefused` (``secret``, the API key, masked in its message). One whose
    outcome is unknown (no reply, a time-out, a 5xx) is looked up in the
    provider's list of batches: adopted if listed, else it raises and stays ``submitting`` for
    the next run to settle (see :func:`settle_submission`)."""
    connect = connector(connect)
    build = openai_batch_line if spec.provider == "openai" else anthropic_batch_request
    batch_ids = []
    for start in range(0, len(todo), max_requests):
        chunk = todo.iloc[start:start + max_requests]
        submission_id = f"sub_{uuid.uuid4().hex[:20]}"
        # Request ids need not satisfy the providers' custom_id rules; positions do.
        custom_ids = [f"{submission_id}-{i}" for i in range(len(chunk))]
        mapping = pd.DataFrame({
            "custom_id": custom_ids,
            "request_id": chunk["request_id"].astype(str).to_list(),
            "request_hash": [request_hash(spec, s, p)
                             for s, p in zip(chunk["system"], chunk["prompt"])],
        })
        lines = [build(spec, custom_id, system, prompt) for custom_id, system, prompt
                 in zip(custom_ids, chunk["system"], chunk["prompt"])]
        with connect() as conn:
            record_submission(conn, submission_id, spec, mapping)
        try:
            batch_id, input_file_id = gateway.create(lines, submission_id)
        except Exception as exc:
            if _refused(exc, gateway.sdk):
                with connect() as conn:
                    _note_status(conn, submission_id, None, new_state="not_accepted")
                raise BatchRefused(spec.name, exc.status_code,
                                   describe_error(exc, secret)) from scrub_exception(exc, secret)
            # Unknown outcome (no reply, a time-out, a 5xx): the provider's list tells. A batch
            # created a moment ago may not be listed yet, so its absence is left to the next run.
            batch_id = settle_submission(connect, gateway, submission_id,
                                         absent_means_refused=False)
            if batch_id is None:
                raise
        else:
            with connect() as conn:
                record_acceptance(conn, submission_id, batch_id, input_file_id)
        batch_ids.append(batch_id)
    return batch_ids


def poll(gateway, batch_id: str, interval_s: float, deadline: float,
         sleep=time.sleep) -> BatchStatus | None:
    """Read the batch's status every ``interval_s`` until it ends (its final status) or the
    ``time.monotonic()`` deadline passes (None). Transient errors only cost a poll; an
    unknown batch raises :class:`BatchLost`."""
    sdk = gateway.sdk
    while True:
        try:
            status = gateway.status(batch_id)
        except sdk.NotFoundError as exc:
            raise BatchLost(batch_id) from exc
        except (sdk.APIConnectionError, sdk.RateLimitError, sdk.InternalServerError):
            status = None
        if status is not None and status.ended:
            return status
        if time.monotonic() + interval_s > deadline:
            return None
        sleep(interval_s)


def _batch_record(spec: ModelSpec, request_id: str, hash_: str, outcome: Outcome,
                  previous_attempts: int, secret: str) -> dict:
    record = {
        "request_id": request_id, "model": spec.name, "response": None, "status": "error",
        "error": None, "attempts": previous_attempts + 1, "latency_ms": None,
        "tokens_in": None, "tokens_out": None, "cost_usd": None, "request_hash": hash_,
        "confidence": None,
    }
    done = outcome.completion
    if done is None:
        # Masked before the cut: a cut key would no longer match the whole key.
        record["error"] = mask_secrets(outcome.error or "unknown batch error",
                                       secret)[:ERROR_LIMIT]
        return record
    list_price = (done.tokens_in * spec.price_in_per_mtok
                  + done.tokens_out * spec.price_out_per_mtok) / 1e6
    record.update(response=done.text, status="ok", confidence=done.confidence,
                  tokens_in=done.tokens_in,
                  tokens_out=done.tokens_out, cost_usd=list_price * (1 - spec.batch_discount))
    return record


def collect(connect: Connector, gateway, batch_id: str, spec: ModelSpec, status: BatchStatus,
            secret: str = "") -> pd.DataFrame:
    """Download an ended batch's results, then write one ``responses`` row per request (a
    request without a result, e.g. in an expired batch, is an error row) and mark the batch
    collected, all in one transaction. Returns the rows written."""
    outcomes = gateway.results(batch_id)  # before connecting: a download may take a while
    with connector(connect)() as conn:
        records = _collected_rows(conn, batch_id, spec, status, outcomes, secret)

        def write() -> None:
            store_replayed(conn, records, "batch")
            conn.execute(
                "UPDATE batches SET status = 'collected', provider_status = ?, "
                "completed_at = coalesce(completed_at, ?), collected_at = ? WHERE batch_id = ?",
                [status.provider_status, _now(), _now(), batch_id],
            )
        _in_transaction(conn, write)
    return records


def _collected_rows(conn, batch_id: str, spec: ModelSpec, status: BatchStatus,
                    outcomes: dict[str, Outcome], secret: str) -> pd.DataFrame:
    """The ``responses`` rows of a batch's outcomes, one per request it carried."""
    mapping = conn.execute(
        "SELECT b.custom_id, b.request_id, b.request_hash, r.status AS stored_status, "
        "coalesce(r.attempts, 0) AS previous_attempts FROM batch_requests b "
        "LEFT JOIN responses r ON r.request_id = b.request_id AND r.model = ? "
        "AND r.source <> 'logged' "
        "WHERE b.batch_id = ? ORDER BY b.custom_id", [spec.name, batch_id],
    ).df()
    missing = Outcome(error=f"BatchMissingResult: batch {batch_id} ended "
                            f"{status.provider_status} without a result for this request")
    records = response_frame([
        _batch_record(spec, row.request_id, row.request_hash, outcomes.get(row.custom_id, missing),
                      int(row.previous_attempts), secret)
        for row in mapping.itertuples(index=False)
    ])
    # A success written meanwhile (e.g. by an online replay) is never replaced by a failure.
    keep = ~((records["status"] == "error") & (mapping["stored_status"] == "ok").to_numpy())
    return records[keep].reset_index(drop=True)


def wait_and_collect(connect: Connector, gateway, batch_ids: list[str], spec: ModelSpec,
                     policy: BatchPolicy, secret: str = "",
                     sleep=time.sleep) -> tuple[list[pd.DataFrame], list[str]]:
    """Poll each batch until it ends and collect it. Returns (rows written per collected
    batch, ids still running at the deadline). A batch the provider no longer knows is
    marked 'lost', so the next run sends its requests again."""
    connect = connector(connect)
    deadline = time.monotonic() + policy.timeout_s
    collected, running = [], []
    for batch_id in batch_ids:
        try:
            status = poll(gateway, batch_id, policy.poll_interval_s, deadline, sleep)
        except BatchLost:
            with connect() as conn:
                _note_status(conn, batch_id, "not_found", new_state="lost")
            continue
        if status is None:
            running.append(batch_id)
            continue
        collected.append(collect(connect, gateway, batch_id, spec, status, secret))
    return collected, running


# --- the whole run ------------------------------------------------------------------------------

def _validate(requests: pd.DataFrame, spec: ModelSpec, policy: BatchPolicy) -> None:
    if spec.provider not in BATCH_PROVIDERS:
        raise ValueError(f"batch replay: provider {spec.provider!r} of model {spec.name!r} has no "
                         f"batch API here; use one of {list(BATCH_PROVIDERS)} or the online replay")
    missing = {"request_id", "system", "prompt"} - set(requests.columns)
    if missing:
        raise ValueError(f"batch replay: requests lack column(s) {sorted(missing)}")
    if not 0.0 <= spec.batch_discount <= 1.0:
        raise ValueError("batch replay: batch_discount must be within [0, 1], "
                         f"got {spec.batch_discount}")
    if policy.poll_interval_s <= 0 or policy.timeout_s < 0:
        raise ValueError("batch replay: poll_interval_s must be > 0 and timeout_s >= 0")
    if policy.max_requests is not None and policy.max_requests < 1:
        raise ValueError("batch replay: max_requests must be at least 1")


def replay_batch_into(
    connect: Connector,
    requests: pd.DataFrame,
    spec: ModelSpec,
    api_key: str,
    base_url: str | None = None,
    policy: BatchPolicy = BatchPolicy(),
    refresh: bool = False,
    sleep=time.sleep,
) -> dict:
    """The batch counterpart of :func:`pipeline.replay.store.replay_into`.

    Settles submissions whose outcome an earlier run never saw, resumes this model's batches
    left open by earlier runs, submits what neither the cache nor an open batch holds, waits
    for all of them, writes the outcomes to ``responses`` and returns the usual summary plus
    ``batch_ids`` (every batch this run waited on), ``pending`` (requests in batches still
    running at the deadline, or in unsettled submissions; the next run resumes them) and
    ``unsettled`` (submissions the provider's list could not yet match to one batch).
    Raises :class:`BatchRefused` when the provider refuses to create a batch. ``connect``
    opens a warehouse connection (a connection is also taken, and kept open): one for each
    short read or write, none while the provider is asked or waited for.
    """
    _validate(requests, spec, policy)
    connect = connector(connect)
    gateway = batch_gateway(spec, api_key, base_url)
    try:
        with connect() as conn:
            submitting = batches_in_state(conn, spec, "submitting")
        for submission_id in submitting:
            settle_submission(connect, gateway, submission_id)
        with connect() as conn:
            unsettled = batches_in_state(conn, spec, "submitting")  # the list could not tell
            resumed = batches_in_state(conn, spec, "submitted")
            todo, cache_hits = split_cached(conn, requests, spec, refresh)
            todo = todo[~todo["request_id"].astype(str).isin(
                requests_in(conn, resumed + unsettled))]
        limit = policy.max_requests or MAX_BATCH_REQUESTS[spec.provider]
        submitted = submit(connect, gateway, todo, spec, limit, api_key) if len(todo) else []
        collected, running = wait_and_collect(connect, gateway, resumed + submitted, spec,
                                              policy, api_key, sleep)
    except Exception as exc:  # raised on as it is, with every key masked in it and its causes
        scrub_exception(exc, api_key)
        raise
    finally:
        gateway.close()
    records = (pd.concat(collected, ignore_index=True) if collected
               else pd.DataFrame(columns=RESPONSE_COLUMNS))
    summary = summarise(records, cache_hits, retries=0)
    # A batch has no per-request latency; the online summary's fields stay, empty.
    with connect() as conn:
        pending = len(requests_in(conn, running + unsettled))
    summary.update(latency_p50_ms=None, latency_p95_ms=None, batch_ids=resumed + submitted,
                   pending=pending, unsettled=unsettled)
    return summary
