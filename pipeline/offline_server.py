"""An offline model provider on loopback that speaks the OpenAI chat-completions and Anthropic
messages wire formats, so the official ``openai`` and ``anthropic`` SDKs talk to it unchanged
through ``base_url``.

It answers with the demo world's deterministic models (:mod:`pipeline.demo_world`), which makes
the whole pipeline runnable with no network and no keys, and gives tests a real HTTP peer.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def _handler(answer: AnswerFn, stats: dict) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
        disable_nagle_algorithm = True  # else each reply waits ~40 ms for a delayed ACK

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            route = ROUTES.get(self.path.split("?")[0])
            if route is None:
                return self._send(404, {"error": {"type": "not_found", "message": self.path}})
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                reply = route(body, answer)
            except (ValueError, KeyError, TypeError) as exc:
                return self._send(400, {"error": {"type": "invalid_request_error",
                                                  "message": f"malformed request: {exc}"}})
            with stats["lock"]:
                stats["requests"] += 1
            self._send(200, reply)

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # requests are recorded by the replay, not here
            pass

    return Handler


class OfflineServer:
    """A running loopback provider. ``base_url`` is for the OpenAI SDK (it appends
    ``/chat/completions``), ``anthropic_base_url`` for the Anthropic SDK (it appends
    ``/v1/messages``). ``requests`` counts the completions served."""

    def __init__(self, httpd: ThreadingHTTPServer, stats: dict):
        self._httpd = httpd
        self._stats = stats
        host, port = httpd.server_address[:2]
        self.anthropic_base_url = f"http://{host}:{port}"
        self.base_url = f"{self.anthropic_base_url}/v1"

    @property
    def requests(self) -> int:
        return self._stats["requests"]


@contextmanager
def serve(answer: AnswerFn = demo_answer, host: str = "127.0.0.1") -> Iterator[OfflineServer]:
    """Run the offline provider on a free port for the duration of the ``with`` block; it is
    shut down on exit, exceptions included."""
    stats = {"requests": 0, "lock": threading.Lock()}
    httpd = ThreadingHTTPServer((host, 0), _handler(answer, stats))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="offline-provider", daemon=True)
    thread.start()
    try:
        yield OfflineServer(httpd, stats)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
