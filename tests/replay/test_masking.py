"""Keys are masked before an error text is cut (pipeline.replay.online.mask_secrets): no piece
of KEY_PIECE characters of a key survives, wherever the key falls against the cut, whole or in
part, online or in a batch result, in a stored text or in an exception raised on."""

import openai
import pytest

from pipeline.replay import batch as batch_replay
from pipeline.replay.batch import Outcome
from pipeline.replay.online import (
    ERROR_LIMIT,
    KEY_PIECE,
    MASK,
    ModelSpec,
    describe_error,
    mask_secrets,
    register_secret,
    scrub_exception,
)

KEY = "sk-proj-T3stKeyThatMustNeverBeStored0123456789abcdefXYZ"
OTHER = "sk-ant-api03-AnotherConfiguredKey9876543210zyxwv"


def pieces(text: str, *keys: str) -> list[str]:
    return [key[i:i + KEY_PIECE] for key in keys for i in range(len(key) - KEY_PIECE + 1)
            if key[i:i + KEY_PIECE] in text]


def test_whole_keys_and_their_pieces_are_masked():
    assert mask_secrets(f"Authorization: Bearer {KEY}.", KEY) == f"Authorization: Bearer {MASK}."
    hint = f"Incorrect API key provided: {KEY[:12]}...{KEY[-4:]}"  # a provider's own hint
    assert mask_secrets(hint, KEY) == f"Incorrect API key provided: {MASK}...{KEY[-4:]}"
    split = f"{KEY[:20]} and {KEY[25:]}"  # a key cut apart: both pieces go
    assert mask_secrets(split, KEY) == f"{MASK} and {MASK}"
    assert mask_secrets(KEY + KEY, KEY) == MASK  # touching runs are one mask
    assert mask_secrets(f"{KEY} {OTHER}", [KEY, OTHER, None]) == f"{MASK} {MASK}"
    assert mask_secrets("no key here", KEY) == "no key here"
    assert mask_secrets("short key k9 k9", "k9") == f"short key {MASK} {MASK}"  # whole only


@pytest.mark.parametrize("padding", range(ERROR_LIMIT - len(KEY) - 60, ERROR_LIMIT + 5))
def test_a_key_at_any_offset_around_the_cut_leaves_no_piece(padding):
    error = openai.APIError("x" * padding + KEY + " tail", request=None, body=None)
    text = describe_error(error, KEY)
    assert len(text) <= ERROR_LIMIT and not pieces(text, KEY)


def test_every_registered_key_is_masked_in_any_error():
    register_secret(OTHER, "offline", None)  # a placeholder shorter than a piece is skipped
    text = describe_error(RuntimeError(f"echo {OTHER} offline"), "some-other-key")
    assert text == f"RuntimeError: echo {MASK} offline"


@pytest.mark.parametrize("padding", range(ERROR_LIMIT - len(KEY) - 2, ERROR_LIMIT + 2))
def test_a_batch_result_echoing_the_key_is_masked_before_the_cut(padding):
    outcome = Outcome(error="BadRequestError: " + "y" * padding + KEY)
    record = batch_replay._batch_record(ModelSpec("m", "openai", "x"), "r1", "h", outcome, 0, KEY)
    assert len(record["error"]) <= ERROR_LIMIT and not pieces(record["error"], KEY)


def test_an_exception_raised_on_keeps_its_type_and_loses_the_key():
    def fail():
        try:
            raise ConnectionError(f"proxy said: bad key {KEY}")
        except ConnectionError as cause:
            raise openai.APIError(f"failed with {KEY[:30]}", request=None,
                                  body={"error": {"message": KEY}}) from cause

    with pytest.raises(openai.APIError) as caught:
        try:
            fail()
        except openai.APIError as error:
            assert scrub_exception(error, KEY) is error
            raise
    error = caught.value
    assert not pieces(f"{error} {error.message} {error.body} {error.__cause__}", KEY)
