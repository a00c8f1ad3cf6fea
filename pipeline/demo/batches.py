"""Batch emulation for both providers: OpenAI's files + batches and Anthropic's message batches.

``BatchBook`` keeps the uploaded files and the batches; a batch ends after the status reads and
the delay its ``BatchBehaviour`` asks for, and its requests are answered then, each as a single
request would be (faults included). The endpoints below read the batch requests and write the
replies in each provider's shape: upload, create (whose reply may be lost), retrieve, list
(newest first, paged), results and metadata.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Literal

from pipeline.demo.chat_formats import (
    BY_PROVIDER,
    HANG_UP,
    AnswerFn,
    ChatFormat,
    Reply,
    error_reply,
    json_reply,
    reply_to,
)
from pipeline.demo.faults import BatchBehaviour, FaultChooser, batch_error_line

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # Anthropic's rule; OpenAI's is looser
_OPENAI_BATCH_ENDPOINT = "/v1/chat/completions"
_EXPIRY_S = 86400
# What a malformed batch request can raise while it is read, whichever way it is malformed.
_REFUSED = (ValueError, KeyError, TypeError, AttributeError)


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


def _openai_input_line(line: str, seen: set[str]) -> tuple[str, dict]:
    """(custom_id, body) of one line of a batch input file; ValueError and the like if invalid."""
    entry = json.loads(line)
    custom_id, body = entry["custom_id"], entry["body"]
    if not isinstance(custom_id, str) or custom_id in seen:
        raise ValueError(f"custom_id {custom_id!r} is missing or not unique")
    if entry.get("method") != "POST" or entry.get("url") != _OPENAI_BATCH_ENDPOINT:
        raise ValueError(f"method/url must be POST {_OPENAI_BATCH_ENDPOINT}")
    if not isinstance(body, dict):
        raise ValueError("body must be an object")
    return custom_id, body


def _parse_openai_input(data: bytes) -> tuple[list[tuple[str, dict]], list[dict]]:
    """(items, validation errors) of a batch input file, as OpenAI reports them per line."""
    items, errors, seen = [], [], set()
    for number, line in enumerate(data.decode(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            custom_id, body = _openai_input_line(line, seen)
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


def _check_openai_metadata(metadata: object) -> None:
    if metadata is not None and not (
        isinstance(metadata, dict) and len(metadata) <= 16
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise ValueError("metadata must be at most 16 string keys with string values")


def _anthropic_items(requests: object) -> list[tuple[str, dict]]:
    """(custom_id, params) of each request of an Anthropic batch; ValueError if any is invalid."""
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
    return items


def _jsonl(lines: list[dict]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


class BatchBook:
    """The batch APIs' state (uploaded files, batches, their results) under one lock. A
    batch's requests are answered when it ends, each through the single-request code path.
    ``count`` tallies the server's statistics: requests, faults, batches and batch_polls."""

    def __init__(self, behaviour: BatchBehaviour, answer: AnswerFn, faults: FaultChooser,
                 count: Callable[[str], None]):
        self.behaviour, self.answer, self.faults, self.count = behaviour, answer, faults, count
        self.files: dict[str, dict] = {}
        self.batches: dict[str, _Batch] = {}
        self.lock = threading.Lock()

    def upload(self, filename: str, purpose: str, data: bytes) -> dict:
        with self.lock:
            return self._store_file(filename, purpose, data)

    def _store_file(self, filename: str, purpose: str, data: bytes) -> dict:
        """The new file's record (without its bytes); the caller holds the lock."""
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        record = {"id": file_id, "object": "file", "bytes": len(data),
                  "created_at": int(time.time()), "filename": filename, "purpose": purpose,
                  "status": "processed"}
        self.files[file_id] = {**record, "data": data}
        return record

    def file_content(self, file_id: str) -> bytes | None:
        with self.lock:
            stored = self.files.get(file_id)
        return None if stored is None else stored["data"]

    def create(self, provider: str, body: dict) -> _Batch:
        return self.create_openai(body) if provider == "openai" else self.create_anthropic(body)

    def create_openai(self, body: dict) -> _Batch:
        if body.get("endpoint") != _OPENAI_BATCH_ENDPOINT:
            raise ValueError(f"endpoint must be {_OPENAI_BATCH_ENDPOINT!r}")
        if body.get("completion_window") != "24h":
            raise ValueError("completion_window must be '24h'")
        data = self.file_content(str(body.get("input_file_id")))
        if data is None:
            raise ValueError(f"no such input file: {body.get('input_file_id')!r}")
        metadata = body.get("metadata")
        _check_openai_metadata(metadata)
        items, errors = _parse_openai_input(data)
        return self._add(_Batch(f"batch_{uuid.uuid4().hex[:24]}", "openai", items, time.time(),
                                input_file_id=body["input_file_id"], invalid=errors,
                                metadata=metadata))

    def create_anthropic(self, body: dict) -> _Batch:
        items = _anthropic_items(body.get("requests"))
        return self._add(_Batch(f"msgbatch_{uuid.uuid4().hex[:24]}", "anthropic", items,
                                time.time()))

    def _add(self, batch: _Batch) -> _Batch:
        with self.lock:
            self.batches[batch.id] = batch
        self.count("batches")
        return batch

    def lose_this_reply(self) -> bool:
        """Whether the reply to the batch just created is to be lost (see BatchBehaviour)."""
        with self.lock:
            return len(self.batches) <= self.behaviour.lost_create_replies

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
            self.count("batch_polls")
            if batch.ended is None and not batch.invalid and self._due(batch):
                self._finish(batch)
            return batch

    def _due(self, batch: _Batch) -> bool:
        return (batch.reads > self.behaviour.polls
                and time.time() - batch.created >= self.behaviour.delay_s)

    def _finish(self, batch: _Batch) -> None:
        chat_format = BY_PROVIDER[batch.provider]
        batch.results = [(custom_id, *self._answer_one(chat_format, body))
                         for custom_id, body in batch.items]
        batch.ended = time.time()
        if batch.provider == "openai":
            lines = _openai_result_lines(batch)
            output = [line for line in lines if line["response"]["status_code"] == 200]
            errors = [line for line in lines if line["response"]["status_code"] != 200]
            batch.output_file_id = self._store_output(batch, "output", output)
            batch.error_file_id = self._store_output(batch, "errors", errors)

    def _answer_one(self, chat_format: ChatFormat, body: dict) -> tuple[int, dict]:
        fault = self.faults.for_batch_request(chat_format, body)
        error_line = batch_error_line(fault) if fault is not None else None
        if error_line is not None:
            self.count("faults")
            return error_line
        status, reply = reply_to(chat_format, body, self.answer)
        if status == 200:
            self.count("requests")
        return status, reply

    def _store_output(self, batch: _Batch, kind: str, lines: list[dict]) -> str | None:
        # Like OpenAI, a file only exists when it has lines (no error file for a clean batch).
        if not lines:
            return None
        return self._store_file(f"{batch.id}_{kind}.jsonl", "batch_output", _jsonl(lines))["id"]

    def anthropic_results(self, batch_id: str) -> bytes | None:
        with self.lock:
            batch = self.batches.get(batch_id)
            if batch is None or batch.provider != "anthropic" or batch.ended is None:
                return None
            results = list(batch.results)
        return _jsonl([
            {"custom_id": custom_id,
             "result": {"type": "succeeded", "message": body} if status == 200
             else {"type": "errored", "error": body}}
            for custom_id, status, body in results
        ])


def _openai_result_lines(batch: _Batch) -> list[dict]:
    return [
        {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": custom_id,
         "response": {"status_code": status, "request_id": f"req_{uuid.uuid4().hex[:16]}",
                      "body": body},
         "error": None}
        for custom_id, status, body in batch.results
    ]


def _timestamp(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def _openai_status(batch: _Batch) -> str:
    if batch.invalid:
        return "failed"
    if batch.ended is not None:
        return "completed"
    return "in_progress" if batch.reads else "validating"


def _openai_view(batch: _Batch) -> dict:
    failed = sum(status != 200 for _, status, _ in batch.results)
    return {
        "id": batch.id, "object": "batch", "endpoint": _OPENAI_BATCH_ENDPOINT,
        "input_file_id": batch.input_file_id, "completion_window": "24h",
        "created_at": int(batch.created), "status": _openai_status(batch),
        "output_file_id": batch.output_file_id, "error_file_id": batch.error_file_id,
        "completed_at": int(batch.ended) if batch.ended else None,
        "failed_at": int(batch.created) if batch.invalid else None,
        "expires_at": int(batch.created) + _EXPIRY_S,
        "errors": {"object": "list", "data": batch.invalid} if batch.invalid else None,
        "request_counts": {"total": len(batch.items),
                           "completed": len(batch.results) - failed, "failed": failed},
        "metadata": batch.metadata,
    }


def _anthropic_view(batch: _Batch, own_url: str) -> dict:
    errored = sum(status != 200 for _, status, _ in batch.results)
    ended = batch.ended is not None
    return {
        "id": batch.id, "type": "message_batch",
        "processing_status": "ended" if ended else "in_progress",
        "request_counts": {"processing": 0 if ended else len(batch.items),
                           "succeeded": len(batch.results) - errored, "errored": errored,
                           "canceled": 0, "expired": 0},
        "created_at": _timestamp(batch.created), "ended_at": _timestamp(batch.ended),
        "expires_at": _timestamp(batch.created + _EXPIRY_S), "archived_at": None,
        "cancel_initiated_at": None,
        "results_url":
            f"{own_url}/v1/messages/batches/{batch.id}/results" if ended else None,
    }


def _view(batch: _Batch, own_url: str) -> dict:
    """The batch object as its provider's API shows it; ``own_url`` is this server's."""
    return _openai_view(batch) if batch.provider == "openai" else _anthropic_view(batch, own_url)


def _refusal(exc: Exception) -> Reply:
    return error_reply(400, "invalid_request_error", str(exc))


def _no_such(object_id: str) -> Reply:
    return error_reply(404, "not_found_error", f"no such object: {object_id}")


def _file_reply(data: bytes | None, object_id: str) -> Reply:
    return _no_such(object_id) if data is None else Reply(200, data, "application/binary")


def _upload(content_type: str, raw: bytes, book: BatchBook, own_url: str) -> Reply:
    try:
        fields = _multipart_fields(content_type, raw)
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if purpose != "batch" or "file" not in fields:
            raise ValueError("expected a 'file' and purpose 'batch'")
        filename, data = fields["file"]
        record = book.upload(filename or "upload.jsonl", purpose, data)
    except _REFUSED as exc:
        return _refusal(exc)
    return json_reply(200, record)


def _create(provider: str, content_type: str, raw: bytes, book: BatchBook,
            own_url: str) -> Reply:
    try:
        view = _view(book.create(provider, json.loads(raw)), own_url)
    except _REFUSED as exc:
        return _refusal(exc)
    return HANG_UP if book.lose_this_reply() else json_reply(200, view)


def _list(provider: str, query: str, book: BatchBook, own_url: str) -> Reply:
    params = urllib.parse.parse_qs(query)
    after = (params.get("after") or params.get("after_id") or [None])[0]
    try:
        limit = min(100, max(1, int((params.get("limit") or ["20"])[0])))
    except ValueError:
        return error_reply(400, "invalid_request_error", "limit: not a number")
    page, more = book.newest_first(provider, after, limit)
    data = [_view(batch, own_url) for batch in page]
    listing = {"data": data, "has_more": more,
               "first_id": data[0]["id"] if data else None,
               "last_id": data[-1]["id"] if data else None}
    return json_reply(200, {"object": "list", **listing} if provider == "openai" else listing)


def _retrieve(provider: str, batch_id: str, book: BatchBook, own_url: str) -> Reply:
    batch = book.read(batch_id, provider)
    return _no_such(batch_id) if batch is None else json_reply(200, _view(batch, own_url))


def _file_content(file_id: str, book: BatchBook, own_url: str) -> Reply:
    return _file_reply(book.file_content(file_id), file_id)


def _anthropic_results(batch_id: str, book: BatchBook, own_url: str) -> Reply:
    return _file_reply(book.anthropic_results(batch_id), batch_id)


Endpoint = Callable[[BatchBook, str], Reply]
"""A batch endpoint bound to its request: (the book, this server's own URL) -> the reply."""

# OpenAI paths also answer without the /v1 prefix, like /chat/completions.
_POSTS: dict[str, Callable[[str, bytes, BatchBook, str], Reply]] = {
    "/v1/files": _upload,
    "/files": _upload,
    "/v1/batches": partial(_create, "openai"),
    "/batches": partial(_create, "openai"),
    "/v1/messages/batches": partial(_create, "anthropic"),
}
_LISTS = {"/v1/batches": "openai", "/batches": "openai", "/v1/messages/batches": "anthropic"}
_GETS: list[tuple[re.Pattern[str], Callable[[str, BatchBook, str], Reply]]] = [
    (re.compile(r"^(?:/v1)?/batches/([\w-]+)$"), partial(_retrieve, "openai")),
    (re.compile(r"^(?:/v1)?/files/([\w-]+)/content$"), _file_content),
    (re.compile(r"^/v1/messages/batches/([\w-]+)$"), partial(_retrieve, "anthropic")),
    (re.compile(r"^/v1/messages/batches/([\w-]+)/results$"), _anthropic_results),
]


def post_endpoint(path: str, content_type: str, raw: bytes) -> Endpoint | None:
    """The batch endpoint a POST to ``path`` reaches, bound to its body; None if none."""
    endpoint = _POSTS.get(path)
    return None if endpoint is None else partial(endpoint, content_type, raw)


def get_endpoint(path: str, query: str) -> Endpoint | None:
    """The batch endpoint a GET of ``path`` reaches, bound to its query or id; None if none."""
    if path in _LISTS:
        return partial(_list, _LISTS[path], query)
    for pattern, endpoint in _GETS:
        found = pattern.match(path)
        if found:
            return partial(endpoint, found.group(1))
    return None
