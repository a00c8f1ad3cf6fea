"""An offline model provider on loopback that speaks the OpenAI chat-completions and Anthropic
messages wire formats, so the official ``openai`` and ``anthropic`` SDKs talk to it unchanged
through ``base_url``. It also speaks both batch APIs (OpenAI files + batches, Anthropic message
batches), which end after a configurable number of status reads, so polling and resuming are real.

It answers with the demo world's deterministic models (:mod:`pipeline.demo.world`), which makes
the whole pipeline runnable with no network and no keys, and gives tests a real HTTP peer.

This module runs it: the threaded HTTP server, the handler that routes each request to its chat
format (:mod:`~pipeline.demo.chat_formats`), to the batch APIs (:mod:`~pipeline.demo.batches`) or
to an injected fault (:mod:`~pipeline.demo.faults`), the record of what it served (requests in
flight, their arrival times, the counts), and ``serve()``. ``Fault`` and ``BatchBehaviour``,
which ``serve()`` takes, are importable from here.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pipeline.demo import world as demo_world
from pipeline.demo.batches import BatchBook, Endpoint, get_endpoint, post_endpoint
from pipeline.demo.chat_formats import (
    ROUTES,
    UNAUTHORISED,
    AnswerFn,
    ChatFormat,
    Reply,
    json_reply,
    model_retired,
    not_found,
    reply_to_raw,
    requested_model,
)
from pipeline.demo.faults import BatchBehaviour, Fault, FaultChooser, misbehave

__all__ = ["AnswerFn", "BatchBehaviour", "Fault", "OfflineServer", "demo_answer", "serve"]


def demo_answer(model: str, system: str | None, prompt: str) -> str:
    return demo_world.answer(model, system, prompt).text


class _Stats:
    """What a running server has done, under one lock: ``counts`` of requests (completions
    served, inside batches too), faults, batches and batch_polls; the arrival time of each
    single request, and how often each request content (its body) arrived; and how many
    single requests are in flight, now and at the most."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = time.perf_counter()
        self.counts: Counter[str] = Counter()
        self.arrivals: list[float] = []
        self.asked: Counter[str] = Counter()
        self.in_flight = 0
        self.peak_in_flight = 0

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    @contextmanager
    def handling(self, received: float, raw: bytes) -> Iterator[None]:
        """Records a single request with body ``raw`` that arrived at ``received`` as in
        flight while inside."""
        content = hashlib.sha256(raw).hexdigest()
        with self.lock:
            self.arrivals.append(received)
            self.asked[content] += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self.lock:
                self.in_flight -= 1


@dataclass(frozen=True)
class _Provider:
    """What one running server answers with and how it misbehaves, shared by its handlers."""

    answer: AnswerFn
    stats: _Stats
    faults: FaultChooser
    latency_s: float
    api_key: str | None
    book: BatchBook
    retired: frozenset[str] = frozenset()  # model ids answered with the provider's 404


class _Handler(BaseHTTPRequestHandler):
    """Routes a POST to a chat format or a batch endpoint, a GET to a batch endpoint."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
    disable_nagle_algorithm = True  # else each reply waits ~40 ms for a delayed ACK

    @property
    def _provider(self) -> _Provider:
        return self.server.provider  # type: ignore[attr-defined]

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        received = time.perf_counter()
        path = self.path.split("?")[0]
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        batch_endpoint = post_endpoint(path, self.headers.get("Content-Type", ""), raw)
        if batch_endpoint is not None:
            return self._send(self._batch_reply(batch_endpoint))
        chat_format = ROUTES.get(path)
        if chat_format is None:
            return self._send(not_found(self.path))
        with self._provider.stats.handling(received, raw):
            self._send(self._chat_reply(chat_format, raw, received))

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path, _, query = self.path.partition("?")
        batch_endpoint = get_endpoint(path, query)
        if batch_endpoint is None:
            return self._send(not_found(self.path))
        self._send(self._batch_reply(batch_endpoint))

    def _chat_reply(self, chat_format: ChatFormat, raw: bytes, received: float) -> Reply:
        if not self._authorised():
            return UNAUTHORISED
        if self._provider.retired and (model := requested_model(raw)) in self._provider.retired:
            return model_retired(chat_format, model)
        instead = self._fault_reply(chat_format, raw)
        if instead is not None:
            return instead
        status, body = reply_to_raw(chat_format, raw, self._provider.answer)
        if status != 200:
            return json_reply(status, body)
        self._wait_out_latency(received)
        self._provider.stats.count("requests")
        return json_reply(200, body)

    def _fault_reply(self, chat_format: ChatFormat, raw: bytes) -> Reply | None:
        """The reply an injected fault puts in place of the answer, if one does."""
        fault = self._provider.faults.for_request(chat_format, raw)
        if fault is None:
            return None
        self._provider.stats.count("faults")
        return misbehave(fault, self._credential(), _last_message(raw))

    def _wait_out_latency(self, received: float) -> None:
        latency_s = self._provider.latency_s
        if latency_s:  # the answer's own computing time is part of the latency
            time.sleep(max(0.0, latency_s - (time.perf_counter() - received)))

    def _batch_reply(self, endpoint: Endpoint) -> Reply:
        if not self._authorised():
            return UNAUTHORISED
        return endpoint(self._provider.book, self._own_url())

    def _authorised(self) -> bool:
        api_key = self._provider.api_key
        return api_key is None or api_key in (
            self.headers.get("x-api-key"), self.headers.get("Authorization", "")[7:]
        )

    def _credential(self) -> str:
        """The key the request carried (Anthropic's ``x-api-key`` or OpenAI's bearer token)."""
        return self.headers.get("x-api-key") or self.headers.get("Authorization", "")[7:]

    def _own_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _send(self, reply: Reply) -> None:
        if reply.hangs_up:
            return self._hang_up()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.data)

    def _hang_up(self) -> None:
        self.close_connection = True
        self.connection.shutdown(2)  # no reply at all

    def log_message(self, *args) -> None:  # requests are recorded by the replay, not here
        pass


def _last_message(raw: bytes) -> str:
    """The text of a chat request's last message, or '' when the body has none."""
    try:
        content = json.loads(raw)["messages"][-1]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
    return content if isinstance(content, str) else json.dumps(content)


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # listen backlog: a burst of new connections must not be dropped
    daemon_threads = True

    def __init__(self, address: tuple[str, int], provider: _Provider):
        self.provider = provider
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        """A client that hung up before its answer (a timeout the client chose, a killed
        run) is the client's business, as with any server: not a traceback on stderr."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class OfflineServer:
    """A running loopback provider. ``base_url`` is for the OpenAI SDK (it appends
    ``/chat/completions``), ``anthropic_base_url`` for the Anthropic SDK (it appends
    ``/v1/messages``). ``requests`` counts the completions served (inside batches too),
    ``faults`` the faults injected, ``batches`` the batches created and ``batch_polls``
    the status reads of batches."""

    def __init__(self, httpd: ThreadingHTTPServer, stats: _Stats):
        self._httpd = httpd
        self._stats = stats
        host, port = httpd.server_address[:2]
        self.anthropic_base_url = f"http://{host}:{port}"
        self.base_url = f"{self.anthropic_base_url}/v1"

    @property
    def requests(self) -> int:
        return self._stats.counts["requests"]

    @property
    def faults(self) -> int:
        return self._stats.counts["faults"]

    @property
    def batches(self) -> int:
        """Batches created (OpenAI and Anthropic together): a re-submission shows here."""
        return self._stats.counts["batches"]

    @property
    def batch_polls(self) -> int:
        """Status reads of batches (a client that polls shows here)."""
        return self._stats.counts["batch_polls"]

    @property
    def peak_in_flight(self) -> int:
        """The most single (non-batch) requests the server was handling at one time."""
        return self._stats.peak_in_flight

    @property
    def arrival_times(self) -> list[float]:
        """``time.perf_counter()`` at which each single request arrived (retries and requests
        refused for their key included)."""
        with self._stats.lock:
            return list(self._stats.arrivals)

    @property
    def requests_per_minute(self) -> list[int]:
        """Single requests that arrived in each minute since the server started (the first
        minute first), as a provider counts them against a per-minute limit."""
        with self._stats.lock:
            minutes = [int((t - self._stats.started) // 60) for t in self._stats.arrivals]
        counts = Counter(minutes)
        return [counts[m] for m in range(max(minutes) + 1)] if minutes else []

    @property
    def busiest_minute(self) -> int:
        """The most single requests that arrived within any 60 seconds (a sliding window)."""
        times = sorted(self.arrival_times)
        first, most = 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= 60.0:
                first += 1
            most = max(most, last - first + 1)
        return most

    @property
    def asked_more_than_once(self) -> int:
        """How many distinct requests (by body) arrived more than once: retries, and requests
        sent again by a later run."""
        with self._stats.lock:
            return sum(1 for n in self._stats.asked.values() if n > 1)


@contextmanager
def serve(
    answer: AnswerFn = demo_answer,
    host: str = "127.0.0.1",
    fault: Fault | None = None,
    latency_s: float = 0.0,
    api_key: str | None = None,
    batch: BatchBehaviour = BatchBehaviour(),
    retired: frozenset[str] | set[str] = frozenset(),
) -> Iterator[OfflineServer]:
    """Run the offline provider on a free port for the duration of the ``with`` block; it is
    shut down on exit, exceptions included.

    ``fault`` injects misbehaviour (inside a batch: an error line for each affected request),
    ``latency_s`` is the time from reading a single request to answering it (for benchmarks:
    the model's latency, its computing included), ``api_key``, when given, is required (401
    otherwise), as a real provider would, ``batch`` paces batches, and the model ids in
    ``retired`` get the 404 a provider answers for a model it has retired."""
    stats = _Stats()
    faults = FaultChooser(fault)
    book = BatchBook(batch, answer, faults, stats.count)
    httpd = _Server((host, 0), _Provider(answer, stats, faults, latency_s, api_key, book,
                                               frozenset(retired)))
    thread = threading.Thread(target=httpd.serve_forever, name="offline-provider", daemon=True)
    thread.start()
    try:
        yield OfflineServer(httpd, stats)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
