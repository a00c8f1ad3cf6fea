"""An offline model provider on loopback that speaks the OpenAI chat-completions and Anthropic
messages wire formats, so the official ``openai`` and ``anthropic`` SDKs talk to it unchanged
through ``base_url``. It also speaks both batch APIs (OpenAI files + batches, Anthropic message
batches), which end after a configurable number of status reads, so polling and resuming are real.

It answers with the demo world's deterministic models (:mod:`pipeline.demo.world`), which makes
the whole pipeline runnable with no network and no keys, and gives tests a real HTTP peer.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import hashlib
import json
import math
import re
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

from pipeline.demo import world as demo_world

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
    # How the wait is written: `retry-after` in seconds, OpenAI's `retry-after-ms`, or
    # `retry-after` as an HTTP date (RFC 9110; whole seconds, so the wait is rounded up).
    retry_after_as: Literal["seconds", "ms", "http-date"] = "seconds"
    delay_s: float = 2.0  # how long `slow` stalls before answering

    def hits(self, key: str, attempt: int) -> bool:
        position = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return position < self.share and attempt <= self.times


def _retry_after_headers(fault: Fault) -> dict[str, str]:
    if fault.retry_after_s is None:
        return {}
    if fault.retry_after_as == "ms":
        return {"retry-after-ms": f"{fault.retry_after_s * 1000:g}"}
    if fault.retry_after_as == "http-date":
        when = math.ceil(time.time() + fault.retry_after_s)
        return {"retry-after": email.utils.formatdate(when, usegmt=True)}
    return {"retry-after": f"{fault.retry_after_s:g}"}


def _error_body(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}


@dataclass(frozen=True)
class BatchBehaviour:
    """How the loopback batch APIs pace a batch: it is reported in progress for its first
    ``polls`` status reads and for at least ``delay_s`` after creation, then it ends. Errors
    inside a batch come from the server's ``fault``, applied to each request of the batch.
    The first ``lost_create_replies`` batch creations are accepted and then answered by a hang-up,
    as when the reply is lost on the way back: the client cannot tell whether it was accepted."""

    polls: int = 1
    delay_s: float = 0.0
    lost_create_replies: int = 0


_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # Anthropic's rule; OpenAI's is looser
_OPENAI_BATCH_ENDPOINT = "/v1/chat/completions"


@dataclass
class _Batch:
    id: str
    provider: Literal["openai", "anthropic"]
    items: list[tuple[str, dict]]  # (custom_id, request body), in submission order
    created: float
    input_file_id: str | None = None
    invalid: list[dict] = field(default_factory=list)  # OpenAI input-file validation errors
    reads: int = 0
    ended: float | None = None
    results: list[tuple[str, int, dict]] = field(default_factory=list)  # (custom_id, status, body)
    output_file_id: str | None = None
    error_file_id: str | None = None
    metadata: dict[str, str] | None = None  # OpenAI's batch metadata


def _timestamp(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def _multipart_fields(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """{field name: (file name, bytes)} of a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        raise ValueError("expected a multipart/form-data body")
    return {
        part.get_param("name", header="content-disposition"):
            (part.get_filename(), part.get_payload(decode=True) or b"")
        for part in message.iter_parts()
    }


def _parse_openai_input(data: bytes) -> tuple[list[tuple[str, dict]], list[dict]]:
    """(items, validation errors) of a batch input file, as OpenAI reports them per line."""
    items, errors, seen = [], [], set()
    for number, line in enumerate(data.decode(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            custom_id, body = entry["custom_id"], entry["body"]
            if not isinstance(custom_id, str) or custom_id in seen:
                raise ValueError(f"custom_id {custom_id!r} is missing or not unique")
            if entry.get("method") != "POST" or entry.get("url") != _OPENAI_BATCH_ENDPOINT:
                raise ValueError(f"method/url must be POST {_OPENAI_BATCH_ENDPOINT}")
            if not isinstance(body, dict):
                raise ValueError("body must be an object")
        except (ValueError, KeyError, TypeError) as exc:
            errors.append({"code": "invalid_request", "line": number, "message": str(exc),
                           "param": None})
            continue
        seen.add(custom_id)
        items.append((custom_id, body))
    if not items and not errors:
        errors.append({"code": "empty_file", "line": None, "message": "no requests",
                       "param": None})
    return items, errors


class _BatchBook:
    """The batch APIs' state (uploaded files, batches, their results) under one lock. A
    batch's requests are answered when it ends, each through the single-request code path."""

    def __init__(self, behaviour: BatchBehaviour, answer: AnswerFn, fault: Fault | None,
                 stats: dict):
        self.behaviour, self.answer, self.fault, self.stats = behaviour, answer, fault, stats
        self.files: dict[str, dict] = {}
        self.batches: dict[str, _Batch] = {}
        self.lock = threading.Lock()

    def upload(self, filename: str, purpose: str, data: bytes) -> dict:
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        record = {"id": file_id, "object": "file", "bytes": len(data),
                  "created_at": int(time.time()), "filename": filename, "purpose": purpose,
                  "status": "processed"}
        with self.lock:
            self.files[file_id] = {**record, "data": data}
        return record

    def file_content(self, file_id: str) -> bytes | None:
        with self.lock:
            stored = self.files.get(file_id)
        return None if stored is None else stored["data"]

    def create_openai(self, body: dict) -> _Batch:
        if body.get("endpoint") != _OPENAI_BATCH_ENDPOINT:
            raise ValueError(f"endpoint must be {_OPENAI_BATCH_ENDPOINT!r}")
        if body.get("completion_window") != "24h":
            raise ValueError("completion_window must be '24h'")
        data = self.file_content(str(body.get("input_file_id")))
        if data is None:
            raise ValueError(f"no such input file: {body.get('input_file_id')!r}")
        metadata = body.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict) and len(metadata) <= 16
            and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
        ):
            raise ValueError("metadata must be at most 16 string keys with string values")
        items, errors = _parse_openai_input(data)
        return self._add(_Batch(f"batch_{uuid.uuid4().hex[:24]}", "openai", items, time.time(),
                                input_file_id=body["input_file_id"], invalid=errors,
                                metadata=metadata))

    def create_anthropic(self, body: dict) -> _Batch:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise ValueError("'requests' must be a non-empty list")
        items, seen = [], set()
        for request in requests:
            custom_id = request.get("custom_id") if isinstance(request, dict) else None
            valid = isinstance(custom_id, str) and _CUSTOM_ID.match(custom_id)
            if not valid or custom_id in seen:
                raise ValueError(f"custom_id {custom_id!r} is invalid or not unique")
            if not isinstance(request.get("params"), dict):
                raise ValueError(f"request {custom_id!r}: 'params' must be an object")
            seen.add(custom_id)
            items.append((custom_id, request["params"]))
        return self._add(_Batch(f"msgbatch_{uuid.uuid4().hex[:24]}", "anthropic", items,
                                time.time()))

    def _add(self, batch: _Batch) -> _Batch:
        with self.lock:
            self.batches[batch.id] = batch
        with self.stats["lock"]:
            self.stats["batches"] += 1
        return batch

    def lose_this_reply(self) -> bool:
        """Whether the reply to the batch just created is to be lost (see BatchBehaviour)."""
        with self.stats["lock"]:
            return self.stats["batches"] <= self.behaviour.lost_create_replies

    def newest_first(self, provider: str, after: str | None, limit: int) -> tuple[list, bool]:
        """(a page of ``provider``'s batches, newest first, starting after the batch id
        ``after``; whether more follow), as both list endpoints page. Listing is no status read."""
        with self.lock:
            ids = [batch.id for batch in reversed(self.batches.values())
                   if batch.provider == provider]
            start = ids.index(after) + 1 if after in ids else 0
            page = [self.batches[batch_id] for batch_id in ids[start:start + limit]]
        return page, start + limit < len(ids)

    def read(self, batch_id: str, provider: str) -> _Batch | None:
        """The batch as of this status read, which may end it; None when unknown."""
        with self.lock:
            batch = self.batches.get(batch_id)
            if batch is None or batch.provider != provider:
                return None
            batch.reads += 1
            with self.stats["lock"]:
                self.stats["batch_polls"] += 1
            due = (batch.reads > self.behaviour.polls
                   and time.time() - batch.created >= self.behaviour.delay_s)
            if batch.ended is None and not batch.invalid and due:
                self._finish(batch)
            return batch

    def _finish(self, batch: _Batch) -> None:
        route = _openai_reply if batch.provider == "openai" else _anthropic_reply
        batch.results = [(custom_id, *self._answer_one(route, body))
                         for custom_id, body in batch.items]
        batch.ended = time.time()
        if batch.provider == "openai":
            lines = self._openai_lines(batch)
            output = [line for line in lines if line["response"]["status_code"] == 200]
            errors = [line for line in lines if line["response"]["status_code"] != 200]
            batch.output_file_id = self._store_output(batch, "output", output)
            batch.error_file_id = self._store_output(batch, "errors", errors)

    def _answer_one(self, route, body: dict) -> tuple[int, dict]:
        key = f"batch|{route.__name__}|{json.dumps(body, sort_keys=True)}"
        with self.stats["lock"]:
            self.stats["attempts"][key] += 1
            attempt = self.stats["attempts"][key]
        hit = self.fault is not None and self.fault.hits(key, attempt)
        injected = _batch_fault(self.fault) if hit else None
        if injected is not None:
            with self.stats["lock"]:
                self.stats["faults"] += 1
            status, kind, message = injected
            return status, _error_body(kind, message)
        try:
            reply = route(body, self.answer)
        except (ValueError, KeyError, TypeError) as exc:
            return 400, _error_body("invalid_request_error", f"malformed request: {exc}")
        with self.stats["lock"]:
            self.stats["requests"] += 1
        return 200, reply

    @staticmethod
    def _openai_lines(batch: _Batch) -> list[dict]:
        return [
            {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": custom_id,
             "response": {"status_code": status, "request_id": f"req_{uuid.uuid4().hex[:16]}",
                          "body": body},
             "error": None}
            for custom_id, status, body in batch.results
        ]

    def _store_output(self, batch: _Batch, kind: str, lines: list[dict]) -> str | None:
        # Like OpenAI, a file only exists when it has lines (no error file for a clean batch).
        if not lines:
            return None
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        self.files[file_id] = {"id": file_id, "object": "file", "bytes": len(data),
                               "created_at": int(time.time()),
                               "filename": f"{batch.id}_{kind}.jsonl", "purpose": "batch_output",
                               "status": "processed", "data": data}
        return file_id

    def openai_view(self, batch: _Batch) -> dict:
        failed = sum(status != 200 for _, status, _ in batch.results)
        if batch.invalid:
            status = "failed"
        elif batch.ended is not None:
            status = "completed"
        else:
            status = "in_progress" if batch.reads else "validating"
        return {
            "id": batch.id, "object": "batch", "endpoint": _OPENAI_BATCH_ENDPOINT,
            "input_file_id": batch.input_file_id, "completion_window": "24h",
            "created_at": int(batch.created), "status": status,
            "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
            "completed_at": int(batch.ended) if batch.ended else None,
            "failed_at": int(batch.created) if batch.invalid else None,
            "expires_at": int(batch.created) + 86400,
            "errors": {"object": "list", "data": batch.invalid} if batch.invalid else None,
            "request_counts": {"total": len(batch.items),
                               "completed": len(batch.results) - failed, "failed": failed},
            "metadata": batch.metadata,
        }

    def anthropic_view(self, batch: _Batch, results_base: str) -> dict:
        errored = sum(status != 200 for _, status, _ in batch.results)
        ended = batch.ended is not None
        return {
            "id": batch.id, "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {"processing": 0 if ended else len(batch.items),
                               "succeeded": len(batch.results) - errored, "errored": errored,
                               "canceled": 0, "expired": 0},
            "created_at": _timestamp(batch.created), "ended_at": _timestamp(batch.ended),
            "expires_at": _timestamp(batch.created + 86400), "archived_at": None,
            "cancel_initiated_at": None,
            "results_url":
                f"{results_base}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    def anthropic_results(self, batch_id: str) -> bytes | None:
        with self.lock:
            batch = self.batches.get(batch_id)
            if batch is None or batch.provider != "anthropic" or batch.ended is None:
                return None
            results = list(batch.results)
        lines = [
            {"custom_id": custom_id,
             "result": {"type": "succeeded", "message": body} if status == 200
             else {"type": "errored", "error": body}}
            for custom_id, status, body in results
        ]
        return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _batch_fault(fault: Fault) -> tuple[int, str, str] | None:
    """What ``fault`` does to a request inside a batch: a per-request error line (a slow
    request is merely slow, which a batch does not show)."""
    if fault.kind == "slow":
        return None
    if fault.kind == "rate_limit":
        return 429, "rate_limit_error", "slow down"
    return 500, "api_error", "internal error"


# Batch routes. OpenAI paths also answer without the /v1 prefix, like /chat/completions.
_BATCH_POSTS = {"/v1/files": "upload", "/files": "upload", "/v1/batches": "create_openai",
                "/batches": "create_openai", "/v1/messages/batches": "create_anthropic"}
_BATCH_LISTS = {"/v1/batches": "openai", "/batches": "openai",
                "/v1/messages/batches": "anthropic"}
_BATCH_GETS = [
    (re.compile(r"^(?:/v1)?/batches/([\w-]+)$"), "openai_batch"),
    (re.compile(r"^(?:/v1)?/files/([\w-]+)/content$"), "file_content"),
    (re.compile(r"^/v1/messages/batches/([\w-]+)$"), "anthropic_batch"),
    (re.compile(r"^/v1/messages/batches/([\w-]+)/results$"), "anthropic_results"),
]


def _handler(answer: AnswerFn, stats: dict, fault: Fault | None, latency_s: float,
             api_key: str | None, book: _BatchBook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect
        disable_nagle_algorithm = True  # else each reply waits ~40 ms for a delayed ACK

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            received = time.perf_counter()
            path = self.path.split("?")[0]
            route = ROUTES.get(path)
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if path in _BATCH_POSTS:
                return self._batch_post(_BATCH_POSTS[path], raw)
            if route is None:
                return self._send(404, _error_body("not_found_error", self.path))
            with stats["lock"]:
                stats["arrivals"].append(received)
                stats["in_flight"] += 1
                stats["peak_in_flight"] = max(stats["peak_in_flight"], stats["in_flight"])
            try:
                self._answer(route, raw, received)
            finally:
                with stats["lock"]:
                    stats["in_flight"] -= 1

        def _answer(self, route, raw: bytes, received: float) -> None:
            if not self._authorised():
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
            if latency_s:  # the answer's own computing time is part of the latency
                time.sleep(max(0.0, latency_s - (time.perf_counter() - received)))
            with stats["lock"]:
                stats["requests"] += 1
            self._send(200, reply)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path, _, query = self.path.partition("?")
            if path in _BATCH_LISTS:
                if not self._authorised():
                    return self._send(401, _error_body("authentication_error", "invalid api key"))
                return self._batch_list(_BATCH_LISTS[path], urllib.parse.parse_qs(query))
            for pattern, action in _BATCH_GETS:
                found = pattern.match(path)
                if found:
                    if not self._authorised():
                        return self._send(401, _error_body("authentication_error",
                                                           "invalid api key"))
                    return self._batch_get(action, found.group(1))
            self._send(404, _error_body("not_found_error", self.path))

        def _authorised(self) -> bool:
            return api_key is None or api_key in (
                self.headers.get("x-api-key"), self.headers.get("Authorization", "")[7:]
            )

        def _batch_post(self, action: str, raw: bytes) -> None:
            if not self._authorised():
                return self._send(401, _error_body("authentication_error", "invalid api key"))
            try:
                if action == "upload":
                    fields = _multipart_fields(self.headers.get("Content-Type", ""), raw)
                    purpose = fields.get("purpose", (None, b""))[1].decode()
                    if purpose != "batch" or "file" not in fields:
                        raise ValueError("expected a 'file' and purpose 'batch'")
                    filename, data = fields["file"]
                    return self._send(200, book.upload(filename or "upload.jsonl", purpose, data))
                if action == "create_openai":
                    batch = book.create_openai(json.loads(raw))
                    view = book.openai_view(batch)
                else:
                    batch = book.create_anthropic(json.loads(raw))
                    view = book.anthropic_view(batch, self._own_url())
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                return self._send(400, _error_body("invalid_request_error", str(exc)))
            if book.lose_this_reply():
                return self._hang_up()
            self._send(200, view)

        def _batch_list(self, provider: str, query: dict[str, list[str]]) -> None:
            after = (query.get("after") or query.get("after_id") or [None])[0]
            try:
                limit = min(100, max(1, int((query.get("limit") or ["20"])[0])))
            except ValueError:
                return self._send(400, _error_body("invalid_request_error", "limit: not a number"))
            page, more = book.newest_first(provider, after, limit)
            data = [book.openai_view(batch) if provider == "openai"
                    else book.anthropic_view(batch, self._own_url()) for batch in page]
            listing = {"data": data, "has_more": more,
                       "first_id": data[0]["id"] if data else None,
                       "last_id": data[-1]["id"] if data else None}
            self._send(200, {"object": "list", **listing} if provider == "openai" else listing)

        def _batch_get(self, action: str, object_id: str) -> None:
            if action == "file_content":
                data = book.file_content(object_id)
            elif action == "anthropic_results":
                data = book.anthropic_results(object_id)
            else:
                provider = "openai" if action == "openai_batch" else "anthropic"
                batch = book.read(object_id, provider)
                if batch is not None:
                    view = (book.openai_view(batch) if provider == "openai"
                            else book.anthropic_view(batch, self._own_url()))
                    return self._send(200, view)
                data = None
            if data is None:
                return self._send(404, _error_body("not_found_error",
                                                   f"no such object: {object_id}"))
            self._send_bytes(200, data, content_type="application/binary")

        def _own_url(self) -> str:
            host, port = self.server.server_address[:2]
            return f"http://{host}:{port}"

        def _inject(self, fault: Fault) -> bool:
            """Misbehave as ``fault`` says; False when the request should then be answered."""
            with stats["lock"]:
                stats["faults"] += 1
            if fault.kind == "rate_limit":
                self._send(429, _error_body("rate_limit_error", "slow down"),
                           _retry_after_headers(fault))
            elif fault.kind == "server_error":
                self._send(500, _error_body("api_error", "internal error"))
            elif fault.kind == "malformed":
                self._send_bytes(200, b'{"id": "chatcmpl-broken", "choices": [')
            elif fault.kind == "drop":
                self._hang_up()
            elif fault.kind == "slow":
                time.sleep(fault.delay_s)
                return False
            return True

        def _hang_up(self) -> None:
            self.close_connection = True
            self.connection.shutdown(2)  # no reply at all

        def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
            self._send_bytes(status, json.dumps(payload).encode(), headers)

        def _send_bytes(self, status: int, data: bytes, headers: dict | None = None,
                        content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
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
    ``/v1/messages``). ``requests`` counts the completions served (inside batches too),
    ``faults`` the faults injected, ``batches`` the batches created and ``batch_polls``
    the status reads of batches."""

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

    @property
    def batches(self) -> int:
        """Batches created (OpenAI and Anthropic together): a re-submission shows here."""
        return self._stats["batches"]

    @property
    def batch_polls(self) -> int:
        """Status reads of batches (a client that polls shows here)."""
        return self._stats["batch_polls"]

    @property
    def peak_in_flight(self) -> int:
        """The most single (non-batch) requests the server was handling at one time."""
        return self._stats["peak_in_flight"]

    @property
    def arrival_times(self) -> list[float]:
        """``time.perf_counter()`` at which each single request arrived (retries and requests
        refused for their key included)."""
        with self._stats["lock"]:
            return list(self._stats["arrivals"])


@contextmanager
def serve(
    answer: AnswerFn = demo_answer,
    host: str = "127.0.0.1",
    fault: Fault | None = None,
    latency_s: float = 0.0,
    api_key: str | None = None,
    batch: BatchBehaviour = BatchBehaviour(),
) -> Iterator[OfflineServer]:
    """Run the offline provider on a free port for the duration of the ``with`` block; it is
    shut down on exit, exceptions included.

    ``fault`` injects misbehaviour (inside a batch: an error line for each affected request),
    ``latency_s`` is the time from reading a single request to answering it (for benchmarks:
    the model's latency, its computing included), ``api_key``, when given, is required (401
    otherwise), as a real provider would, and ``batch`` paces batches."""
    stats = {"requests": 0, "faults": 0, "batches": 0, "batch_polls": 0, "attempts": Counter(),
             "arrivals": [], "in_flight": 0, "peak_in_flight": 0, "lock": threading.Lock()}
    book = _BatchBook(batch, answer, fault, stats)
    httpd = _Server((host, 0), _handler(answer, stats, fault, latency_s, api_key, book))
    thread = threading.Thread(target=httpd.serve_forever, name="offline-provider", daemon=True)
    thread.start()
    try:
        yield OfflineServer(httpd, stats)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
