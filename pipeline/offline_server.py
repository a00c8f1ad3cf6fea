"""An offline model provider on loopback that speaks the OpenAI chat-completions and Anthropic
messages wire formats, so the official ``openai`` and ``anthropic`` SDKs talk to it unchanged
through ``base_url``.

It answers with the demo world's deterministic models (:mod:`pipeline.demo_world`), which makes
the whole pipeline runnable with no network and no keys, and gives tests a real HTTP peer.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

from pipeline import demo_world

AnswerFn = Callable[[str, str | None, str], str]


def demo_answer(model: str, system: str | None, prompt: str) -> str:
    return demo_world.answer(model, system, prompt).text


def _count_tokens(text: str) -> int:
    return max(1, len(text.split()))


def _require(body: dict, key: str, kind: type) -> None:
    if not isinstance(body.get(key), kind) or not body[key]:
        raise ValueError(f"'{key}' must be a non-empty {kind.__name__}")


def _openai_reply(body: dict, answer: AnswerFn) -> dict:
    _require(body, "model", str)
    _require(body, "messages", list)
    messages = body["messages"]
    system = next((m["content"] for m in messages if m.get("role") == "system"), None)
    prompt = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    text = answer(body["model"], system, prompt)
    tokens_in = sum(_count_tokens(str(m.get("content", ""))) for m in messages)
    tokens_out = _count_tokens(text)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }


def _anthropic_reply(body: dict, answer: AnswerFn) -> dict:
    _require(body, "model", str)
    _require(body, "messages", list)
    system = body.get("system")
    if isinstance(system, list):  # the SDK allows a list of text blocks
        system = " ".join(block.get("text", "") for block in system)
    user = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    content = user[-1]["content"] if user else ""
    if isinstance(content, list):
        content = " ".join(block.get("text", "") for block in content)
    text = answer(body["model"], system, content)
    tokens_in = _count_tokens(content) + (_count_tokens(system) if system else 0)
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": tokens_in, "output_tokens": _count_tokens(text)},
    }


ROUTES = {
    "/v1/chat/completions": _openai_reply,
    "/chat/completions": _openai_reply,
    "/v1/messages": _anthropic_reply,
}


FaultKind = Literal["rate_limit", "server_error", "slow", "malformed", "drop"]


@dataclass(frozen=True)
class Fault:
    """Misbehaviour to inject, for testing clients: the first ``times`` attempts of each
    affected request fail with ``kind``; a request is affected when the hash of its content
    falls in the first ``share`` of the range, so the same requests fail on every run."""

    kind: FaultKind
    times: int = 1
    share: float = 1.0
    retry_after_s: float | None = 0.05  # Retry-After header on rate_limit
    delay_s: float = 2.0  # how long `slow` stalls before answering

    def hits(self, key: str, attempt: int) -> bool:
        position = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return position < self.share and attempt <= self.times


def _error_body(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _handler(answer: AnswerFn, stats: dict, fault: Fault | None, latency_s: float,
             api_key: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
        disable_nagle_algorithm = True  # else each reply waits ~40 ms for a delayed ACK

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            route = ROUTES.get(self.path.split("?")[0])
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if route is None:
                return self._send(404, _error_body("not_found_error", self.path))
            if api_key is not None and api_key not in (
                self.headers.get("x-api-key"), self.headers.get("Authorization", "")[7:]
            ):
                return self._send(401, _error_body("authentication_error", "invalid api key"))
            key = f"{route.__name__}|{raw.decode(errors='replace')}"
            with stats["lock"]:
                stats["attempts"][key] += 1
                attempt = stats["attempts"][key]
            if fault is not None and fault.hits(key, attempt) and self._inject(fault):
                return
            try:
                reply = route(json.loads(raw), answer)
            except (ValueError, KeyError, TypeError) as exc:
                return self._send(400, _error_body("invalid_request_error", f"malformed request: {exc}"))
            if latency_s:
                time.sleep(latency_s)
            with stats["lock"]:
                stats["requests"] += 1
            self._send(200, reply)

        def _inject(self, fault: Fault) -> bool:
            """Misbehave as ``fault`` says; False when the request should then be answered."""
            with stats["lock"]:
                stats["faults"] += 1
            if fault.kind == "rate_limit":
                headers = {} if fault.retry_after_s is None else {"retry-after": f"{fault.retry_after_s:g}"}
                self._send(429, _error_body("rate_limit_error", "slow down"), headers)
            elif fault.kind == "server_error":
                self._send(500, _error_body("api_error", "internal error"))
            elif fault.kind == "malformed":
                self._send_bytes(200, b'{"id": "chatcmpl-broken", "choices": [')
            elif fault.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(2)  # hang up without a reply
            elif fault.kind == "slow":
                time.sleep(fault.delay_s)
                return False
            return True

        def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
            self._send_bytes(status, json.dumps(payload).encode(), headers)

        def _send_bytes(self, status: int, data: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # requests are recorded by the replay, not here
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # listen backlog: a burst of new connections must not be dropped
    daemon_threads = True


class OfflineServer:
    """A running loopback provider. ``base_url`` is for the OpenAI SDK (it appends
    ``/chat/completions``), ``anthropic_base_url`` for the Anthropic SDK (it appends
    ``/v1/messages``). ``requests`` counts the completions served, ``faults`` the faults
    injected."""

    def __init__(self, httpd: ThreadingHTTPServer, stats: dict):
        self._httpd = httpd
        self._stats = stats
        host, port = httpd.server_address[:2]
        self.anthropic_base_url = f"http://{host}:{port}"
        self.base_url = f"{self.anthropic_base_url}/v1"

    @property
    def requests(self) -> int:
        return self._stats["requests"]

    @property
    def faults(self) -> int:
        return self._stats["faults"]


@contextmanager
def serve(
    answer: AnswerFn = demo_answer,
    host: str = "127.0.0.1",
    fault: Fault | None = None,
    latency_s: float = 0.0,
    api_key: str | None = None,
) -> Iterator[OfflineServer]:
    """Run the offline provider on a free port for the duration of the ``with`` block; it is
    shut down on exit, exceptions included.

    ``fault`` injects misbehaviour, ``latency_s`` delays every answer (for benchmarks), and
    ``api_key``, when given, is required (401 otherwise), as a real provider would."""
    stats = {"requests": 0, "faults": 0, "attempts": Counter(), "lock": threading.Lock()}
    httpd = _Server((host, 0), _handler(answer, stats, fault, latency_s, api_key))
    thread = threading.Thread(target=httpd.serve_forever, name="offline-provider", daemon=True)
    thread.start()
    try:
        yield OfflineServer(httpd, stats)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
