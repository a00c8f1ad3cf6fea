"""Replay requests against a model through its provider's official SDK.

Plain asyncio over ``openai.AsyncOpenAI`` / ``anthropic.AsyncAnthropic``, on the SDKs' aiohttp
transport (``DefaultAioHttpClient``, which the SDKs document for high concurrency): bounded
concurrency, retries (``tenacity``, the SDKs' own retries off) with exponential backoff and
jitter on rate limits, server errors, time-outs and dropped connections (honouring
``Retry-After``), and no retry on errors a retry cannot fix (authentication, bad request).
Every request yields exactly one record, failed ones included; a refused key, access or model
stops the replay (:class:`ProviderRejected`).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import hashlib
import json
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import anthropic
import httpx2 as httpx  # the SDKs' HTTP layer; aiohttp is its transport here
import openai
import pandas as pd
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_random_exponential

Provider = Literal["openai", "anthropic", "openai_compatible"]


@dataclass(frozen=True)
class ModelSpec:
    """A model in the registry: how to reach it and what it costs."""

    name: str  # the name used in every table
    provider: Provider
    model_id: str  # the provider's model identifier
    base_url: str | None = None  # for OpenAI-compatible servers (vLLM, Ollama, llama.cpp)
    temperature: float | None = None  # None: the provider's default
    max_tokens: int = 512
    system_prompt: str | None = None  # replaces the traffic's system prompt when set
    price_in_per_mtok: float = 0.0  # USD per million input tokens
    price_out_per_mtok: float = 0.0  # USD per million output tokens
    batch_discount: float = 0.5  # share of the price the batch APIs take off (both: 50%)
    # Ask for token log-probabilities (OpenAI chat completions' `logprobs: true`; OpenAI and
    # OpenAI-compatible servers only): the answer's mean token log-probability is stored as
    # `responses.confidence`. False keeps the request (and its hash) as before.
    logprobs: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    timeout_s: float = 60.0


@dataclass(frozen=True)
class Limits:
    """Client-side limits, per model: requests in flight, requests and tokens per minute."""

    concurrency: int = 16
    rpm: float | None = None
    tpm: float | None = None  # counts the prompt's estimated tokens plus max_tokens

    def shared_by(self, workers: int) -> Limits:
        """This worker's share when ``workers`` replay at once against the same limits (a
        split budget: together they stay within the limits, with nothing shared at run time).
        Concurrency is split down to at least 1 request in flight per worker."""
        if workers < 1:
            raise ValueError(f"limits shared by {workers} workers: need at least 1")
        return Limits(concurrency=max(1, self.concurrency // workers),
                      rpm=self.rpm / workers if self.rpm else None,
                      tpm=self.tpm / workers if self.tpm else None)


class _Pacer:
    """Spaces out acquisitions to a steady rate per minute (a leaky bucket with no burst), so
    a provider's per-minute limit is never hit by our own traffic. The spacing is measured from
    when the previous acquisition was actually let through, so an event loop that wakes late
    never lets two through closer together than the rate allows: any 60-second window holds
    at most ``per_minute`` units."""

    def __init__(self, per_minute: float | None):
        self.seconds_per_unit = 60.0 / per_minute if per_minute else 0.0
        self.next_free = 0.0
        self.lock = asyncio.Lock()

    async def acquire(self, units: float = 1.0) -> None:
        if not self.seconds_per_unit:
            return
        loop = asyncio.get_running_loop()
        async with self.lock:  # held while waiting: the next one's turn counts from this one's
            wait = self.next_free - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.next_free = loop.time() + units * self.seconds_per_unit


def system_for(spec: ModelSpec, system) -> str | None:
    """The system prompt sent: the registry's when set, else the request's. An empty optional
    field is absent: None, NaN (an empty CSV cell, or a NULL read back from DuckDB) and blank
    text all mean no system prompt."""
    chosen = spec.system_prompt or system
    return chosen if isinstance(chosen, str) and chosen.strip() else None


def estimated_tokens(spec: ModelSpec, system: str | None, prompt: str) -> int:
    """A provider-neutral upper estimate for tokens-per-minute pacing: ~4 characters a token."""
    return (len(prompt) + len(system_for(spec, system) or "")) // 4 + 1 + spec.max_tokens


def request_hash(spec: ModelSpec, system: str | None, prompt: str) -> str:
    """Identity of a request's content: what is sent, not how (retries, concurrency)."""
    content = {
        "provider": spec.provider,
        "model_id": spec.model_id,
        "temperature": spec.temperature,
        "max_tokens": spec.max_tokens,
        "system": system_for(spec, system),
        "prompt": prompt,
    }
    if spec.logprobs:  # only then: the hash of a request that does not ask stays as it was
        content["logprobs"] = True
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


@dataclass
class Completion:
    text: str
    tokens_in: int
    tokens_out: int
    confidence: float | None = None  # mean token log-probability, when the provider gave them


def mean_logprob(choice: dict) -> float | None:
    """The mean of the answer's token log-probabilities (natural log, one per completion
    token) from an OpenAI chat-completions choice, or None when it carries none. ``exp`` of it
    is the geometric mean of the tokens' probabilities; higher is more confident."""
    logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return None
    values = [token.get("logprob") for token in content if isinstance(token, dict)]
    values = [float(v) for v in values if isinstance(v, (int, float)) and v == v]
    return sum(values) / len(values) if values else None


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The SDKs' default TLS context, built once per process: loading the CA bundle takes
    about 57 ms, which every replay call (a partition, a judge chunk) would otherwise pay again."""
    return httpx.create_ssl_context()


class _Caller:
    """One SDK client per model; ``call`` sends one request and normalises the answer.

    The request goes through the SDK's own client (``client.post``, the SDKs' documented way
    to call an endpoint by path: base URL, auth headers, time-out, connection pool, and HTTP
    errors raised as the SDK's exception classes), but the body is built here and the answer
    read as plain JSON, because the typed ``create`` methods cost more client CPU than a replay
    can spare when one event loop drives many requests on a small machine: OpenAI's walks its
    parameter types for every request (a quarter of a request's CPU under cProfile) and both
    build pydantic models from the answer. The body's keys are in the order ``create`` sends
    them, so the bytes on the wire are the same.

    The transport is aiohttp (the SDKs' ``DefaultAioHttpClient``): 1.2-1.5 ms of client CPU
    per request against 2.0-2.2 ms with the default one, which matters when one event loop
    drives dozens of requests at once (``benchmarks/bench_replay.py``)."""

    def __init__(self, spec: ModelSpec, api_key: str, base_url: str | None, timeout_s: float):
        self.spec = spec
        if spec.provider == "anthropic":
            self.sdk = anthropic
            self.client = anthropic.AsyncAnthropic(
                api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s,
                http_client=anthropic.DefaultAioHttpClient(timeout=timeout_s,
                                                           verify=_tls_context()),
            )
            self._options = {}
        else:
            self.sdk = openai
            self.client = openai.AsyncOpenAI(
                api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s,
                http_client=openai.DefaultAioHttpClient(timeout=timeout_s,
                                                        verify=_tls_context()),
            )
            self._options = {"security": {"bearer_auth": True}}  # as `create` asks for

    async def call(self, system: str | None, prompt: str) -> Completion:
        spec = self.spec
        system = system_for(spec, system)
        if spec.provider == "anthropic":
            body = {"max_tokens": spec.max_tokens,
                    "messages": [{"role": "user", "content": prompt}], "model": spec.model_id}
            if system:
                body["system"] = system
            if spec.temperature is not None:  # the 2.x SDK no longer types it; the API takes it
                body["temperature"] = spec.temperature
            response, reply = await self._post("/v1/messages", body)
            try:
                usage = reply["usage"]
                text = "".join(block["text"] for block in reply["content"]
                               if block.get("type") == "text")
                return Completion(text, usage["input_tokens"], usage["output_tokens"])
            except (KeyError, TypeError, AttributeError) as exc:
                raise self._invalid(response, reply, exc) from exc
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
        body = {"model": spec.model_id, "messages": messages, "max_tokens": spec.max_tokens}
        if spec.temperature is not None:
            body["temperature"] = spec.temperature
        if spec.logprobs:
            body["logprobs"] = True
        response, reply = await self._post("/chat/completions", body)
        try:
            usage = reply.get("usage") or {}
            choice = reply["choices"][0]
            return Completion(
                choice["message"].get("content") or "",
                usage.get("prompt_tokens") or 0,
                usage.get("completion_tokens") or 0,
                mean_logprob(choice),
            )
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise self._invalid(response, reply, exc) from exc

    async def _post(self, path: str, body: dict) -> tuple[httpx.Response, dict]:
        # HTTP errors raise here, as the SDK's own classes (RateLimitError, ...).
        response = await self.client.post(path, body=body, cast_to=httpx.Response,
                                          options=self._options)
        reply = json.loads(response.content)  # broken JSON: a ValueError, retried
        if not isinstance(reply, dict):
            raise self._invalid(response, reply, TypeError("not a JSON object"))
        return response, reply

    def _invalid(self, response: httpx.Response, reply: object, exc: Exception) -> Exception:
        """An answer that is JSON but not the expected shape (retried, like broken JSON)."""
        return self.sdk.APIResponseValidationError(
            response, reply, message=f"unexpected response shape: {exc!r}"
        )

    def refuses_everything(self, exc: Exception) -> bool:
        """A wrong key (401), no access (403) or an unknown model or path (404): every other
        request would get the same answer."""
        sdk = self.sdk
        return isinstance(exc, (sdk.AuthenticationError, sdk.PermissionDeniedError,
                                sdk.NotFoundError))

    def says_retired(self, exc: Exception) -> bool:
        """A 404 that says the model no longer exists or is deprecated: OpenAI's
        ``model_not_found``, Anthropic's ``not_found_error`` about the model, an
        OpenAI-compatible server's 404 naming the model. A 404 for a wrong path is not."""
        if not isinstance(exc, self.sdk.NotFoundError):
            return False
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else body
        if error.get("code") == "model_not_found":
            return True
        message = str(error.get("message") or exc.message).lower()
        return "model" in message or self.spec.model_id.lower() in message

    def retryable(self, exc: Exception) -> bool:
        """Rate limits, server errors, time-outs, dropped connections and unreadable answers
        may pass; authentication and validation errors will not, so they fail at once."""
        sdk = self.sdk
        transient = (sdk.RateLimitError, sdk.APIConnectionError, sdk.InternalServerError,
                     sdk.APIResponseValidationError, ValueError)  # ValueError: broken JSON
        if isinstance(exc, transient):
            return True  # APITimeoutError is an APIConnectionError
        return isinstance(exc, sdk.APIStatusError) and exc.status_code in (408, 409, 429)

    async def close(self) -> None:
        await self.client.close()


def _retry_after_s(exc: Exception) -> float | None:
    """The wait an error's answer asks for, as the SDKs read it (their own retries are off):
    OpenAI's ``retry-after-ms``, else ``retry-after`` in seconds or as an HTTP date."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    try:
        return float(response.headers["retry-after-ms"]) / 1000
    except (KeyError, ValueError):
        pass
    header = response.headers.get("retry-after")
    if header is None:
        return None
    try:
        return float(header)
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(header).timestamp() - time.time())
    except (TypeError, ValueError):
        return None  # unreadable: the usual back-off


class _wait_retry_after(wait_base):
    """Tenacity wait: what the failed attempt's answer asks for (``Retry-After``), else the
    back-off. A zero or unreadable ``Retry-After`` falls back to the back-off too."""

    def __init__(self, backoff: wait_base):
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        return _retry_after_s(retry_state.outcome.exception()) or self.backoff(retry_state)


def _retrying(caller: _Caller, policy: RetryPolicy) -> AsyncRetrying:
    """The policy as tenacity's: up to ``max_attempts`` attempts; a retry for what
    ``caller.retryable`` lets pass, never for a refusal; between attempts the wait the answer
    asks for, else full jitter, uniform in [0, min(max_delay_s, base_delay_s * 2 ** (n - 1))]
    after the n-th attempt, which spreads the retries of many requests that failed together.
    After the last attempt, or an error not retried, the error itself is raised. Tenacity's
    loop costs about 50 us of CPU a request (it inspects each of its steps), against about
    1 ms for the rest of a request's client CPU (``benchmarks/bench_replay.py``)."""

    def retryable(exc: BaseException) -> bool:
        return not caller.refuses_everything(exc) and caller.retryable(exc)

    backoff = wait_random_exponential(multiplier=policy.base_delay_s, max=policy.max_delay_s)
    return AsyncRetrying(retry=retry_if_exception(retryable), wait=_wait_retry_after(backoff),
                         stop=stop_after_attempt(policy.max_attempts), sleep=asyncio.sleep,
                         reraise=True)


ERROR_LIMIT = 500  # characters of an error text kept in `responses.error` and messages
KEY_PIECE = 8  # no run of this many characters of a key survives masking
MASK = "***"
_SECRETS: set[str] = set()  # every key this process has handed to a provider's client


def register_secret(*keys: str | None) -> None:
    """Remember keys as secrets: :func:`mask_secrets` masks them in every error text of this
    process from now on, whichever model's error it is (a provider may echo any key it got).
    Placeholders shorter than :data:`KEY_PIECE` (the offline ``offline``, ``not-needed``) are
    not real keys and would mask ordinary words: only the error of their own call masks them."""
    _SECRETS.update(key for key in keys if isinstance(key, str) and len(key) >= KEY_PIECE)


def mask_secrets(text: str, secrets: str | Iterable[str | None] = ()) -> str:
    """``text`` with every key masked (``secrets`` and those registered by
    :func:`register_secret`): each whole occurrence, and every run of :data:`KEY_PIECE` or more
    characters that is a piece of a key, as when a provider echoes a key in part or its own
    message cuts one. A run of masked characters becomes one ``***``. Cut the result, never the
    text before it: a cut can leave a piece of a key that no longer matches the whole key."""
    keys = {secrets} if isinstance(secrets, str) else set(secrets)
    keys = {key for key in keys | _SECRETS if isinstance(key, str) and key}
    spans = []
    for key in keys:
        pieces = {key} if len(key) < KEY_PIECE else {
            key[i:i + KEY_PIECE] for i in range(len(key) - KEY_PIECE + 1)}
        for piece in pieces:
            start = text.find(piece)
            while start != -1:
                spans.append((start, start + len(piece)))
                start = text.find(piece, start + 1)
    return _join_masked(text, sorted(spans)) if spans else text


def _join_masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each union of overlapping or touching ``spans`` (sorted) as one mask."""
    out, kept_from = [], 0
    run_start, run_end = spans[0]
    for start, stop in spans[1:]:
        if start <= run_end:
            run_end = max(run_end, stop)
            continue
        out += [text[kept_from:run_start], MASK]
        kept_from, run_start, run_end = run_end, start, stop
    out += [text[kept_from:run_start], MASK, text[run_end:]]
    return "".join(out)


def scrub_exception(exc: BaseException, secrets: str | Iterable[str | None] = ()):
    """Mask every key (:func:`mask_secrets`) in ``exc`` and the exceptions it was raised from
    or during (``__cause__``, ``__context__``), in place, so an error leaving the replay can be
    logged, shown and stored (Dagster keeps the whole chain). Its type stays. Returns ``exc``."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        node = pending.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        node.args = tuple(_masked(arg, secrets) for arg in node.args)
        for attribute in ("message", "body"):  # what the SDKs' errors keep of the answer
            if isinstance(getattr(node, attribute, None), (str, dict, list)):
                try:
                    setattr(node, attribute, _masked(getattr(node, attribute), secrets))
                except AttributeError:  # a read-only property
                    pass
        pending += [node.__cause__, node.__context__]
    return exc


def _masked(value, secrets):
    if isinstance(value, str):
        return mask_secrets(value, secrets)
    if isinstance(value, dict):
        return {key: _masked(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_masked(item, secrets) for item in value)
    return value


def describe_error(exc: Exception, secret: str | Iterable[str | None] = ()) -> str:
    """Error class and message, and the root cause's when there is one (the transport maps
    a refused connection to a time-out, for one), with every key masked in case a provider
    echoes one back (:func:`mask_secrets`), then cut to :data:`ERROR_LIMIT` characters."""
    text = f"{type(exc).__name__}: {exc}"
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    if root is not exc:
        text += f" (cause: {type(root).__name__}: {root})"
    return mask_secrets(text, secret)[:ERROR_LIMIT]


class ProviderRejected(RuntimeError):
    """The provider refused the key, the access or the model (401, 403, 404), so the replay
    sent nothing more. ``records`` has a record for every request, those never sent included
    (status ``error``, 0 attempts, retried by the next run), for the caller to store."""

    def __init__(self, model: str, reason: str, records: pd.DataFrame):
        unsent = int((records["attempts"] == 0).sum())
        super().__init__(
            f"{model}: the provider refused the request, so the replay stopped with {unsent} of "
            f"{len(records)} requests not sent; check the API key, the model id and the base "
            f"URL. {reason}")
        self.records = records
        self.summary: dict | None = None  # set by callers that summarise the run


class ModelRetired(ProviderRejected):
    """The provider says the model no longer exists or is deprecated (a 404 about the model):
    it is retired, and no key or URL will bring it back."""

    def __init__(self, model: str, reason: str, records: pd.DataFrame):
        super().__init__(model, reason, records)
        self.args = (f"`{model}` is retired at its provider; mark it `retired: true` in the "
                     f"model registry and supply its logged answers (the traffic file's "
                     f"`response` and `model` columns). The provider said: {reason}",)


class _Stop:
    """Shared by a replay's workers: the first refusal of the provider (``reason``) stops
    every request not yet sent; ``retired`` when that refusal said the model is gone."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.retired = False


def _unsent(record: dict, stop: _Stop) -> dict:
    if record["attempts"] == 0:
        record["error"] = f"not sent: the replay stopped at {stop.reason}"[:ERROR_LIMIT]
    return record


async def _replay_one(caller: _Caller, row, policy: RetryPolicy,
                      pacers: tuple[_Pacer, _Pacer], secret: str, stop: _Stop,
                      retrying: AsyncRetrying) -> dict:
    spec = caller.spec
    requests_pacer, tokens_pacer = pacers
    request_id, system, prompt = row
    record = {
        "request_id": request_id, "model": spec.name, "response": None, "status": "error",
        "error": None, "attempts": 0, "latency_ms": None, "tokens_in": None, "tokens_out": None,
        "cost_usd": None, "request_hash": request_hash(spec, system, prompt),
        "confidence": None,
    }
    if policy.max_attempts < 1:  # tenacity always makes a first attempt; this policy makes none
        return record
    # Tenacity decides on a retry, waits and stops; the stop check and the pacing before each
    # attempt stay here, outside the attempt, so a fault of theirs is raised as it always was
    # (only the call's errors are classified), and an early return ends the loop.
    call_error: Exception | None = None
    try:
        async for attempt in retrying.copy():  # a copy each: the loop's state is the object's
            if stop.reason:
                return _unsent(record, stop)
            await requests_pacer.acquire()
            await tokens_pacer.acquire(estimated_tokens(spec, system, prompt))
            if stop.reason:  # set while this request waited for its turn
                return _unsent(record, stop)
            record["attempts"] = attempt.retry_state.attempt_number
            with attempt:
                started = time.perf_counter()
                try:
                    completion = await caller.call(system, prompt)
                except Exception as exc:
                    call_error = exc
                    record["error"] = describe_error(exc, secret)  # the last one stays
                    raise
                latency_ms = (time.perf_counter() - started) * 1000
    except Exception as exc:  # noqa: BLE001 - not retried, or the last attempt: recorded above
        if exc is not call_error:
            raise
        if caller.refuses_everything(exc) and not stop.reason:
            stop.reason, stop.retired = record["error"], caller.says_retired(exc)
        return record
    record.update(
        response=completion.text, status="ok", error=None, latency_ms=latency_ms,
        tokens_in=completion.tokens_in, tokens_out=completion.tokens_out,
        confidence=completion.confidence,
        cost_usd=(completion.tokens_in * spec.price_in_per_mtok
                  + completion.tokens_out * spec.price_out_per_mtok) / 1e6,
    )
    return record


Persist = Callable[[list[dict]], None]


class _GroupCommit:
    """Hands finished records to ``persist`` in batches, from a thread, one batch at a time.
    ``put`` returns once its record is written, so a worker's turn (its request "in flight")
    lasts until its answer is stored, and a process killed at any moment has at most
    ``workers`` requests sent and not stored. A batch is written as soon as every worker still
    at work is waiting for it, else at most ``linger_s`` after its first record: waiting a
    moment for the answers about to arrive fills the batch, and each write costs about the same
    whatever its size. The first failure to write fails every put, that one's and all later
    ones."""

    def __init__(self, persist: Persist, workers: int, linger_s: float = 0.05):
        self.persist, self.working, self.linger_s = persist, workers, linger_s
        self.pending: list[tuple[dict, asyncio.Future]] = []
        self.arrived = asyncio.Event()
        self.failure: BaseException | None = None

    async def put(self, record: dict) -> None:
        if self.failure is not None:
            raise self.failure
        done = asyncio.get_running_loop().create_future()
        self.pending.append((record, done))
        self.arrived.set()
        await done

    def retire(self) -> None:
        """A worker has no more requests: the batches no longer wait for it."""
        self.working -= 1
        self.arrived.set()

    async def run(self) -> None:
        """The writer: runs until cancelled, once every put has returned."""
        while True:
            await self.arrived.wait()
            deadline = asyncio.get_running_loop().time() + self.linger_s
            while self.pending and len(self.pending) < self.working:
                self.arrived.clear()
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.arrived.wait(), left)
            self.arrived.clear()
            batch, self.pending = self.pending, []
            if not batch:
                continue
            try:
                await asyncio.to_thread(self.persist, [record for record, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every waiting worker
                self.failure = exc
            for _, done in batch:
                if self.failure is not None:
                    done.set_exception(self.failure)
                else:
                    done.set_result(None)


async def _replay(requests, spec, api_key, base_url, limits: Limits, policy,
                  stop: _Stop, persist: Persist | None = None) -> list[dict]:
    rows = list(zip(requests["request_id"], requests["system"], requests["prompt"]))
    workers = max(1, min(limits.concurrency, len(rows)))
    caller = _Caller(spec, api_key, base_url, policy.timeout_s)
    pacers = (_Pacer(limits.rpm), _Pacer(limits.tpm))
    retrying = _retrying(caller, policy)
    records: list[dict | None] = [None] * len(rows)
    queue = iter(enumerate(rows))
    commit = _GroupCommit(persist, workers) if persist else None
    writer = asyncio.create_task(commit.run()) if commit else None

    async def worker() -> None:
        # `limits.concurrency` workers share one queue: that bounds the requests in flight
        # (retries and their back-off included, and the write of the answer when there is
        # one) without a task per request.
        for index, row in queue:
            records[index] = await _replay_one(caller, row, policy, pacers, api_key, stop,
                                                retrying)
            if commit:
                await commit.put(records[index])
        if commit:
            commit.retire()

    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        if writer:
            writer.cancel()
        await caller.close()
    return records


def replay(
    requests: pd.DataFrame,
    spec: ModelSpec,
    api_key: str,
    base_url: str | None = None,
    limits: Limits = Limits(),
    policy: RetryPolicy = RetryPolicy(),
    persist: Persist | None = None,
) -> pd.DataFrame:
    """Send every request (columns ``request_id``, ``system``, ``prompt``) to ``spec``'s model.

    Returns one row per request in the ``responses`` table's layout; failures have status
    ``error`` and the last error, so nothing is lost. ``base_url`` overrides ``spec.base_url``.
    ``persist``, when given, is called from a thread with each batch of finished records (as
    dicts) as the replay goes, and must have stored them when it returns: a request's place
    among the ``limits.concurrency`` in flight is freed only then (see :class:`_GroupCommit`),
    and an error it raises stops the replay and is raised here.
    Raises :class:`ProviderRejected`, which carries those rows, when the provider refuses the
    key, the access or the model: the first such answer stops the rest from being sent; its
    subclass :class:`ModelRetired` when the answer says the model no longer exists.
    """
    missing = {"request_id", "system", "prompt"} - set(requests.columns)
    if missing:
        raise ValueError(f"replay: requests lack column(s) {sorted(missing)}")
    if len(requests) == 0:
        return pd.DataFrame(columns=list(_EMPTY_RECORD))
    stop = _Stop()
    try:
        records = pd.DataFrame.from_records(asyncio.run(
            _replay(requests, spec, api_key, base_url or spec.base_url, limits, policy, stop,
                    persist)
        ))
    except Exception as exc:  # not a request's error (those are records): keys masked all the same
        scrub_exception(exc, api_key)
        raise
    if stop.reason:
        raise (ModelRetired if stop.retired else ProviderRejected)(spec.name, stop.reason, records)
    return records


_EMPTY_RECORD = dict.fromkeys(
    ["request_id", "model", "response", "status", "error", "attempts", "latency_ms",
     "tokens_in", "tokens_out", "cost_usd", "request_hash", "confidence"]
)


