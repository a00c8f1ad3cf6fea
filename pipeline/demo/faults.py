"""Fault injection for the loopback provider: the misbehaviour it is told to show (``Fault``),
how it paces batches and loses their creation replies (``BatchBehaviour``), which attempts at
which requests a fault hits (``FaultChooser``), and what a hit looks like on the wire, for a
single request and for a request inside a batch.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from pipeline.demo.chat_formats import HANG_UP, ChatFormat, Reply, error_body, error_reply

FaultKind = Literal["rate_limit", "server_error", "slow", "malformed", "drop", "echo_key",
                    "bad_request"]
# The error type each provider names for the statuses `echo_key` answers with.
_ECHO_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                     403: "permission_error", 500: "api_error"}


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
    # `echo_key`: an error with this status whose message echoes the request's prompt and the
    # key it carried (whole, and as a hint of its first 12 characters), as careless providers
    # and proxies do; the prompt's length sets where in the message the key falls.
    status: int = 400

    def hits(self, key: str, attempt: int) -> bool:
        position = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        return position < self.share and attempt <= self.times


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


class FaultChooser:
    """Counts the attempts at each request, so that ``fault`` hits only its first ``times``.
    A request is known by its format and content; inside a batch it is another request."""

    def __init__(self, fault: Fault | None):
        self.fault = fault
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def for_request(self, chat_format: ChatFormat, raw: bytes) -> Fault | None:
        """The fault that hits this attempt at a single request, if any."""
        return self._hit(f"{chat_format.fault_name}|{raw.decode(errors='replace')}")

    def for_batch_request(self, chat_format: ChatFormat, body: dict) -> Fault | None:
        """The fault that hits this attempt at a request inside a batch, if any."""
        return self._hit(f"batch|{chat_format.fault_name}|{json.dumps(body, sort_keys=True)}")

    def _hit(self, key: str) -> Fault | None:
        with self._lock:
            self._attempts[key] += 1
            attempt = self._attempts[key]
        return self.fault if self.fault is not None and self.fault.hits(key, attempt) else None


def misbehave(fault: Fault, credential: str = "", prompt: str = "") -> Reply | None:
    """The reply ``fault`` puts in place of a single request's answer; None when the request is
    to be answered after all (``slow`` stalls first). ``credential`` is the key the request
    carried and ``prompt`` its last message, which ``echo_key`` echoes."""
    if fault.kind == "echo_key":
        message = (f"cannot process the request {prompt} sent with Authorization: Bearer "
                   f"{credential} (key {credential[:12]}...{credential[-4:]})")
        return error_reply(fault.status, _ECHO_ERROR_TYPES.get(fault.status, "api_error"),
                           message)
    if fault.kind == "rate_limit":
        return error_reply(429, "rate_limit_error", "slow down", _retry_after_headers(fault))
    if fault.kind == "server_error":
        return error_reply(500, "api_error", "internal error")
    if fault.kind == "bad_request":  # a 400 no retry fixes: the request fails at once
        return error_reply(400, "invalid_request_error", "the request is not valid")
    if fault.kind == "malformed":
        return Reply(200, b'{"id": "chatcmpl-broken", "choices": [')
    if fault.kind == "drop":
        return HANG_UP
    if fault.kind == "slow":
        time.sleep(fault.delay_s)
    return None


def _retry_after_headers(fault: Fault) -> dict[str, str]:
    if fault.retry_after_s is None:
        return {}
    if fault.retry_after_as == "ms":
        return {"retry-after-ms": f"{fault.retry_after_s * 1000:g}"}
    if fault.retry_after_as == "http-date":
        when = math.ceil(time.time() + fault.retry_after_s)
        return {"retry-after": email.utils.formatdate(when, usegmt=True)}
    return {"retry-after": f"{fault.retry_after_s:g}"}


def batch_error_line(fault: Fault) -> tuple[int, dict] | None:
    """(status, error body) that ``fault`` writes for a request inside a batch; None for
    ``slow``, since a slow request is merely slow, which a batch does not show, and for
    ``echo_key``, which only single requests show."""
    if fault.kind in ("slow", "echo_key"):  # echo_key: single requests only
        return None
    if fault.kind == "rate_limit":
        return 429, error_body("rate_limit_error", "slow down")
    if fault.kind == "bad_request":
        return 400, error_body("invalid_request_error", "the request is not valid")
    return 500, error_body("api_error", "internal error")
