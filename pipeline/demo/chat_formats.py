"""The two chat wire formats the loopback provider speaks: OpenAI chat completions and Anthropic
messages. For each: which paths it answers on, how a request body is read into (model, system
prompt, user prompt), the reply body its SDK expects with the tokens counted, and the errors it
answers with. ``Reply`` is the HTTP reply that these and the batch and fault replies travel in.
An OpenAI request that asks for ``logprobs`` gets the demo's token log-probabilities
(:mod:`pipeline.demo.confidence`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.demo.confidence import openai_logprobs

AnswerFn = Callable[[str, str | None, str], str]
"""(model, system prompt or None, user prompt) -> the model's text."""

# What a request body can raise when it is not what its format asks for.
_MALFORMED = (ValueError, KeyError, TypeError)


@dataclass(frozen=True)
class Reply:
    """An HTTP reply, ready to send; ``hangs_up`` is no reply at all (the connection is shut)."""

    status: int = 0
    data: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    hangs_up: bool = False


HANG_UP = Reply(hangs_up=True)


def json_reply(status: int, payload: dict, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), headers=headers or {})


def error_body(kind: str, message: str) -> dict:
    # One shape for both providers: Anthropic's, whose inner "error" object is also where the
    # OpenAI SDK looks for the error's type and message.
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_reply(status: int, kind: str, message: str,
                headers: dict[str, str] | None = None) -> Reply:
    return json_reply(status, error_body(kind, message), headers)


def not_found(what: str) -> Reply:
    return error_reply(404, "not_found_error", what)


UNAUTHORISED = error_reply(401, "authentication_error", "invalid api key")


def model_retired(chat_format: ChatFormat, model: str) -> Reply:
    """The 404 each provider answers for a model it has retired: OpenAI's ``model_not_found``
    code, Anthropic's ``not_found_error`` naming the model."""
    if chat_format is OPENAI:
        return json_reply(404, {"error": {
            "message": f"The model `{model}` has been deprecated and is no longer available.",
            "type": "invalid_request_error", "param": None, "code": "model_not_found"}})
    return error_reply(404, "not_found_error", f"model: {model}")


def requested_model(raw: bytes) -> str | None:
    """The ``model`` a request body asks for, or None when it is not readable."""
    try:
        body = json.loads(raw)
    except _MALFORMED:
        return None
    return body.get("model") if isinstance(body, dict) else None


def malformed_request(exc: Exception) -> dict:
    return error_body("invalid_request_error", f"malformed request: {exc}")


def count_tokens(text: str) -> int:
    return max(1, len(text.split()))


def _require(body: dict, key: str, kind: type) -> None:
    if not isinstance(body.get(key), kind) or not body[key]:
        raise ValueError(f"'{key}' must be a non-empty {kind.__name__}")


def _openai_prompts(messages: list[dict]) -> tuple[str | None, str]:
    """(the system message, the last user message) of an OpenAI conversation."""
    system = next((m["content"] for m in messages if m.get("role") == "system"), None)
    prompt = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return system, prompt


def openai_reply(body: dict, answer: AnswerFn) -> dict:
    _require(body, "model", str)
    _require(body, "messages", list)
    messages = body["messages"]
    system, prompt = _openai_prompts(messages)
    text = answer(body["model"], system, prompt)
    tokens_in = sum(count_tokens(str(m.get("content", ""))) for m in messages)
    tokens_out = count_tokens(text)
    choice = {"index": 0, "message": {"role": "assistant", "content": text},
              "finish_reason": "stop"}
    if body.get("logprobs"):  # as OpenAI: only when asked, one entry per completion token
        choice["logprobs"] = openai_logprobs(body["model"], system, prompt, text)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": [choice],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }


def _joined_text(content: str | list[dict]) -> str:
    """The text of an Anthropic content field, which the SDK allows as a list of text blocks."""
    if isinstance(content, list):
        return " ".join(block.get("text", "") for block in content)
    return content


def _anthropic_prompts(body: dict) -> tuple[str | None, str]:
    """(the system prompt, the last user message) of an Anthropic request."""
    system = body.get("system")
    if isinstance(system, list):
        system = _joined_text(system)
    user = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    return system, (_joined_text(user[-1]["content"]) if user else "")


def anthropic_reply(body: dict, answer: AnswerFn) -> dict:
    _require(body, "model", str)
    _require(body, "messages", list)
    system, prompt = _anthropic_prompts(body)
    text = answer(body["model"], system, prompt)
    tokens_in = count_tokens(prompt) + (count_tokens(system) if system else 0)
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": tokens_in, "output_tokens": count_tokens(text)},
    }


@dataclass(frozen=True)
class ChatFormat:
    """One wire format: how it replies to a request body, and its name in fault keys."""

    reply: Callable[[dict, AnswerFn], dict]
    # The names the reply functions had when fault keys were first hashed: a fault's ``share``
    # picks requests by that hash, so a new name would make other requests fail.
    fault_name: str


OPENAI = ChatFormat(openai_reply, "_openai_reply")
ANTHROPIC = ChatFormat(anthropic_reply, "_anthropic_reply")
BY_PROVIDER = {"openai": OPENAI, "anthropic": ANTHROPIC}

ROUTES = {
    "/v1/chat/completions": OPENAI,
    "/chat/completions": OPENAI,
    "/v1/messages": ANTHROPIC,
}


def reply_to(chat_format: ChatFormat, body: dict, answer: AnswerFn) -> tuple[int, dict]:
    """(status, body) of the reply to a request body: 200 and the answer, or 400."""
    try:
        return 200, chat_format.reply(body, answer)
    except _MALFORMED as exc:
        return 400, malformed_request(exc)


def reply_to_raw(chat_format: ChatFormat, raw: bytes, answer: AnswerFn) -> tuple[int, dict]:
    """As ``reply_to``, for a request body still to be parsed."""
    try:
        body = json.loads(raw)
    except _MALFORMED as exc:
        return 400, malformed_request(exc)
    return reply_to(chat_format, body, answer)
