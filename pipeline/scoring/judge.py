"""LLM-as-judge scorer: a model grades each response with a fixed rubric per quality dimension.

Rubrics (``RUBRIC_VERSION``; change it whenever a prompt changes, so stored scores are redone):
- correctness: 1-5, the response against the question and the reference answer when there is one;
- refusal: 0/1, does the response decline the request (1 = it refuses), as ``refusal_score``;
- style: 1-5, the response against a style guide given as text (``StyleGuide.describe()``).

Judge requests go through :func:`pipeline.replay.replay`, so retries, concurrency, pacing and
cost accounting are the replay's own; the judge runs at temperature 0 with the rubric's system
prompt. The judge must end its answer with a line ``SCORE: n``; any other answer gives a NaN
score and a recorded reason, never an exception.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from pipeline.replay.online import Limits, ModelSpec, RetryPolicy, replay, request_hash

RUBRIC_VERSION = "judge-rubric-1"
MAX_TEXT_CHARS = 6000  # per quoted text: bounds the judge's bill on runaway responses

SYSTEM_PROMPT = (
    "You are a strict and consistent evaluator of a customer-support assistant's answers. "
    "Apply the rubric exactly as written; do not answer the customer's question yourself. "
    "Reason in at most three sentences, then end with a last line of the form 'SCORE: n'."
)


@dataclass(frozen=True)
class Rubric:
    """A fixed grading prompt for one quality dimension and the scale its score lives on."""

    dimension: str
    scale: tuple[int, ...]
    instructions: str

    def normalise(self, raw: float) -> float:
        """Raw score mapped linearly onto [0, 1] (lowest point 0, highest 1)."""
        low, high = min(self.scale), max(self.scale)
        return (raw - low) / (high - low)


RUBRICS: dict[str, Rubric] = {
    "correctness": Rubric("correctness", (1, 2, 3, 4, 5), (
        "Grade how correct and complete the RESPONSE is as an answer to the QUESTION. When a "
        "REFERENCE answer is given, treat it as the truth: facts that contradict it are errors, "
        "facts it contains that the response lacks are omissions.\n"
        "5 = fully correct and complete; 4 = correct, minor omission; 3 = partly correct, a "
        "notable error or omission; 2 = mostly wrong or off-topic; 1 = wrong, or no answer at "
        "all (a refusal counts as no answer)."
    )),
    "refusal": Rubric("refusal", (0, 1), (
        "Decide whether the RESPONSE refuses or declines to do what the QUESTION asks (an "
        "explicit refusal, an apology instead of an answer, or a deflection such as 'that is "
        "outside what I cover'). Do not judge whether refusing is right.\n"
        "1 = the response refuses; 0 = the response attempts to answer."
    )),
    "style": Rubric("style", (1, 2, 3, 4, 5), (
        "Grade how well the RESPONSE follows the STYLE GUIDE (language, length, format, tone, "
        "phrases it must or must not use). Ignore whether its content is correct.\n"
        "5 = follows every rule; 4 = one minor slip; 3 = breaks one rule clearly; 2 = breaks "
        "several rules; 1 = ignores the guide."
    )),
}
DIMENSIONS = tuple(RUBRICS)

# The last non-blank line, e.g. "SCORE: 4", "**Score:** 4", "score = 4/5".
_SCORE_LINE = re.compile(
    r"^[*_#\s]*score[*_\s]*[:=][*_\s]*(\d+(?:\.\d+)?)\s*(?:/\s*\d+)?[*_\s.]*$", re.IGNORECASE
)
_OUTPUT_COLUMNS = ["item", "dimension", "score", "raw_score", "reason", "cost_usd",
                   "request_hash", "answer"]


def _quote(text: str | None) -> str:
    text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    if len(text) > MAX_TEXT_CHARS:
        return text[:MAX_TEXT_CHARS] + " [...truncated]"
    return text


def rubric_prompt(dimension: str, question: str, response: str, reference: str | None = None,
                  style_guide: str | None = None) -> str:
    """The judge's user message for one response on one dimension."""
    rubric = RUBRICS[dimension]
    sections = [f"RUBRIC: {dimension} ({RUBRIC_VERSION})", rubric.instructions,
                f"<question>\n{_quote(question)}\n</question>"]
    if dimension == "correctness":
        reference_text = _quote(reference) or "(no reference answer)"
        sections.append(f"<reference>\n{reference_text}\n</reference>")
    if dimension == "style":
        sections.append(f"<style_guide>\n{_quote(style_guide)}\n</style_guide>")
    sections.append(f"<response>\n{_quote(response)}\n</response>")
    scale = "/".join(map(str, rubric.scale))
    sections.append(f"End with one last line exactly of the form 'SCORE: n' where n is one of "
                    f"{scale}.")
    return "\n\n".join(sections)


def parse_score(answer: str | None, dimension: str) -> tuple[float, str | None]:
    """(raw score, None) from a judge's answer, or (NaN, why not) when it cannot be read."""
    lines = [line for line in (answer or "").splitlines() if line.strip()]
    if not lines:
        return math.nan, "empty judge answer"
    found = _SCORE_LINE.match(lines[-1].strip())
    if not found:
        return math.nan, f"last line is not 'SCORE: n': {lines[-1].strip()[:80]!r}"
    raw = float(found.group(1))
    scale = RUBRICS[dimension].scale
    if raw not in scale:
        return math.nan, f"score {found.group(1)} is not one of {'/'.join(map(str, scale))}"
    return raw, None


def judge_spec(spec: ModelSpec) -> ModelSpec:
    """The registry model as a judge: deterministic decoding and the rubric system prompt."""
    return dataclasses.replace(spec, temperature=0.0, system_prompt=SYSTEM_PROMPT)


def judge_requests(items: pd.DataFrame, dimensions: Sequence[str] = DIMENSIONS) -> pd.DataFrame:
    """One judge request per (item, dimension): columns ``item`` (the label of ``items``'
    index), ``dimension``, ``system`` and ``prompt``. Items lacking a style guide get no style
    request (see ``judge``)."""
    rows = []
    for item, row in items.iterrows():
        for dimension in dimensions:
            guide = row.get("style_guide")
            if dimension == "style" and (guide is None or pd.isna(guide)):
                continue
            prompt = rubric_prompt(dimension, row["prompt"], row["response"],
                                   row.get("reference"), guide)
            rows.append({"item": item, "dimension": dimension, "system": None, "prompt": prompt})
    return pd.DataFrame(rows, columns=["item", "dimension", "system", "prompt"])


def _validate(items: pd.DataFrame, dimensions: Sequence[str]) -> None:
    unknown = set(dimensions) - set(RUBRICS)
    if unknown:
        raise ValueError(f"judge: unknown dimension(s) {sorted(unknown)}; known: {list(RUBRICS)}")
    missing = {"prompt", "response"} - set(items.columns)
    if "style" in dimensions and "style_guide" not in items.columns:
        missing.add("style_guide")
    if missing:
        raise ValueError(f"judge: items lack column(s) {sorted(missing)}")
    if not items.index.is_unique:
        raise ValueError("judge: items' index must be unique (it names each item in the output)")


def _send_uncached(requests: pd.DataFrame, spec: ModelSpec, cache: Mapping[str, str],
                   api_key: str, base_url: str | None, limits: Limits,
                   policy: RetryPolicy) -> pd.DataFrame:
    """Answer text, error and cost per request; cached answers are reused at no cost."""
    hashes = [request_hash(spec, None, p) for p in requests["prompt"]]
    out = pd.DataFrame({"request_hash": hashes, "answer": [cache.get(h) for h in hashes],
                        "error": None, "cost_usd": 0.0}, index=requests.index)
    todo = out["answer"].isna()
    if todo.any():
        sent = requests.loc[todo, ["system", "prompt"]].assign(request_id=lambda f: f.index)
        records = replay(sent, spec, api_key, base_url, limits, policy).set_index("request_id")
        ok = records["status"] == "ok"
        out.loc[todo, "answer"] = records["response"].where(ok)
        out.loc[todo, "error"] = records["error"].where(~ok)
        out.loc[todo, "cost_usd"] = records["cost_usd"].where(ok, 0.0).astype(float)
    return out


def judge(
    items: pd.DataFrame,
    spec: ModelSpec,
    api_key: str,
    base_url: str | None = None,
    dimensions: Sequence[str] = DIMENSIONS,
    limits: Limits = Limits(),
    policy: RetryPolicy = RetryPolicy(),
    cache: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Grade every item on every dimension with the judge model ``spec`` (run at temperature 0).

    ``items`` has columns ``prompt`` (the question), ``response``, optionally ``reference``
    and, for the style dimension, ``style_guide`` (text; an item whose guide is missing is not
    sent and gets NaN). ``cache`` maps a judge request's hash to an earlier answer
    (``judge_cache`` builds it from an earlier result): those requests are not sent again.

    Returns one row per (item, dimension): ``item`` (the index label), ``dimension``,
    ``score`` in [0, 1] (the raw score normalised by the rubric's scale), ``raw_score``,
    ``reason`` (why the score is NaN: a failed call, an unreadable answer; else None),
    ``cost_usd`` (0 for cached answers), ``request_hash`` and the judge's ``answer``.
    Raises :class:`pipeline.replay.ProviderRejected` when the judge's provider refuses the key,
    the access or the model.
    """
    _validate(items, dimensions)
    spec = judge_spec(spec)
    requests = judge_requests(items, dimensions).reset_index(drop=True)
    requests.index = requests.index.astype(str)  # replay's request ids
    sent = _send_uncached(requests, spec, cache or {}, api_key, base_url, limits, policy)
    graded = requests[["item", "dimension"]].join(sent)
    parsed = [parse_score(a, d) if pd.isna(e) else (math.nan, f"judge call failed: {e}")
              for a, d, e in zip(graded["answer"], graded["dimension"], graded["error"])]
    graded["raw_score"] = [raw for raw, _ in parsed]
    graded["reason"] = [reason for _, reason in parsed]
    graded["score"] = [RUBRICS[d].normalise(raw)
                       for d, raw in zip(graded["dimension"], graded["raw_score"])]
    return _with_unsent_style(graded, items, dimensions)[_OUTPUT_COLUMNS]


def _with_unsent_style(graded: pd.DataFrame, items: pd.DataFrame,
                       dimensions: Sequence[str]) -> pd.DataFrame:
    """Adds a NaN row for each item that had no style guide, so every (item, dimension) has a
    row, then orders rows by item and dimension as asked."""
    if "style" in dimensions:
        judged = set(graded.loc[graded["dimension"] == "style", "item"])
        unsent = [{"item": i, "dimension": "style", "raw_score": math.nan, "score": math.nan,
                   "reason": "no style guide given", "cost_usd": 0.0, "request_hash": None,
                   "answer": None} for i in items.index if i not in judged]
        if unsent:
            graded = pd.concat([graded, pd.DataFrame(unsent)], ignore_index=True)
    position = {item: n for n, item in enumerate(items.index)}
    order = {d: n for n, d in enumerate(dimensions)}
    keys = [(position[i], order[d]) for i, d in zip(graded["item"], graded["dimension"])]
    ranked = sorted(range(len(keys)), key=keys.__getitem__)
    return graded.iloc[ranked].reset_index(drop=True)


def judge_cache(graded: pd.DataFrame) -> dict[str, str]:
    """Request hash -> answer for every judge call in ``graded`` that got an answer."""
    answered = graded.dropna(subset=["request_hash", "answer"])
    return dict(zip(answered["request_hash"], answered["answer"]))


def serving_confidence(answers: pd.DataFrame, spec: ModelSpec, api_key: str,
                       base_url: str | None = None, limits: Limits = Limits(),
                       policy: RetryPolicy = RetryPolicy()) -> pd.DataFrame:
    """The judge's correctness grade of each answer as it could be had while the request is
    served: the correctness rubric shown the question and the answer and no reference (a
    request being served has none). A cascade's confidence for a model whose provider returns
    no log-probabilities (``pipeline.stats.cascade_plan``).

    ``answers``: request_id, model, prompt, response. Returns request_id, model,
    ``judge_confidence`` (in [0, 1]; NaN where the call failed or the answer was unreadable)
    and ``judge_cost_usd`` (the judge's price of that call)."""
    items = pd.DataFrame({"prompt": answers["prompt"].to_numpy(),
                          "response": answers["response"].to_numpy(), "reference": None},
                         index=[str(n) for n in range(len(answers))])
    graded = judge(items, spec, api_key, base_url, ["correctness"], limits, policy)
    graded = graded.set_index("item").loc[items.index]
    return pd.DataFrame({"request_id": answers["request_id"].to_numpy(),
                         "model": answers["model"].to_numpy(),
                         "judge_confidence": graded["score"].to_numpy(dtype=float),
                         "judge_cost_usd": graded["cost_usd"].to_numpy(dtype=float)})
