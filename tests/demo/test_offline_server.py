"""The offline provider is a real HTTP peer for the official SDKs."""

import anthropic
import openai
import pytest

from pipeline.demo import server as offline_server
from pipeline.demo import world as demo_world

SYSTEM = demo_world.system_prompt("fr")
PROMPT = "comment puis je compte facture (ticket 9)?"


def test_openai_sdk_round_trip():
    with offline_server.serve() as server:
        client = openai.OpenAI(api_key="offline", base_url=server.base_url, max_retries=0)
        reply = client.chat.completions.create(
            model="candidate-a",
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
        )
        assert server.requests == 1
    assert reply.choices[0].message.content == demo_world.answer("candidate-a", SYSTEM, PROMPT).text
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0


def test_anthropic_sdk_round_trip():
    with offline_server.serve() as server:
        client = anthropic.Anthropic(api_key="offline", base_url=server.anthropic_base_url,
                                     max_retries=0)
        reply = client.messages.create(
            model="incumbent-v1", max_tokens=100, system=SYSTEM,
            messages=[{"role": "user", "content": PROMPT}],
        )
    assert reply.content[0].text == demo_world.answer("incumbent-v1", SYSTEM, PROMPT).text
    assert reply.usage.output_tokens > 0


def test_malformed_request_is_a_400_the_sdk_reports():
    with offline_server.serve() as server:
        client = openai.OpenAI(api_key="offline", base_url=server.base_url, max_retries=0)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="x", messages=[], extra_body={"model": None})


def test_each_server_gets_its_own_port_and_stops():
    with offline_server.serve() as first, offline_server.serve() as second:
        assert first.base_url != second.base_url
    client = openai.OpenAI(api_key="offline", base_url=first.base_url, max_retries=0, timeout=2)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
