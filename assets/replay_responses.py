"""replay_responses: the sampled requests answered by each model, one partition per model. Its
blocking check `replay_succeeded` stops the scores (and every fit and decision) when a model
replayed in this run failed on too many requests."""

import warnings

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    BackfillPolicy,
    BetaWarning,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from assets.metadata import table_metadata
from assets.partitions import MODEL_PARTITIONS
from assets.progress import logged
from assets.traffic_sample import traffic_sample
from pipeline.data.answers import LOGGED
from pipeline.data.markdown import markdown_table
from pipeline.data.warehouse import read_query
from pipeline.replay.batch import BATCH_PROVIDERS, BatchPolicy, replay_batch_into
from pipeline.replay.online import ModelRetired
from pipeline.replay.store import replay_into
from pipeline.report.images import markdown_image
from pipeline.report.plots import replay_costs
from resources import ModelRegistry, Warehouse


class ReplayConfig(Config):
    refresh: bool = False  # re-send requests that already have a successful response
    # Through the provider's batch API at its lower price (OpenAI and Anthropic models; others
    # replay online). Batches are recorded in `batches` and resumed by the next run if this
    # one stops before they end.
    batch: bool = False
    batch_poll_interval_s: float = 30.0
    # Also replay the requests a model already has production's logged answer for (never for
    # a retired model): the replay is kept beside the logged answer, for replay_fidelity.
    replay_logged: bool = False
    max_error_rate: float = Field(0.05, ge=0, le=1, description=(
        "replay_succeeded fails, and blocks the scores and every decision, when more than "
        "this share of a model's replayed requests failed (after retries): comparisons on "
        "the requests that happened to succeed would be biased"))


CHECK = "replay_succeeded"


_TO_REPLAY = """
SELECT t.request_id, t.system, t.prompt, l.request_id IS NOT NULL AS has_logged
FROM traffic t
LEFT JOIN responses l ON l.request_id = t.request_id AND l.model = ? AND l.source = ?
                     AND l.status = 'ok'
"""


def _sampled_requests(conn, name: str) -> tuple[pd.DataFrame, int]:
    """The sampled requests, each with whether ``name`` has a logged answer, and how many do."""
    requests = conn.execute(_TO_REPLAY, [name, LOGGED]).df()
    return requests, int(requests["has_logged"].sum())


def _replay_model(conn, config: ReplayConfig, spec, key, url, limits, log) -> dict:
    requests, logged = _sampled_requests(conn, spec.name)
    total = len(requests)
    if not config.replay_logged:
        requests = requests[~requests["has_logged"]]  # production's answer stands for these
    requests = requests.drop(columns="has_logged").reset_index(drop=True)
    try:
        summary = _send(conn, config, requests, spec, key, url, limits, log)
    except ModelRetired as retired:
        if not logged:
            raise Failure(f"{retired} None of the {total} sampled requests has a logged "
                          f"answer from `{spec.name}`, so it cannot be compared.") from None
        log.warning(f"{retired} Its {logged} logged answers are used; {total - logged} of "
                    f"{total} sampled requests have none and are left out of its comparisons.")
        summary = {**(retired.summary or {}), "retired": True}
    return {**summary, "logged": logged}


def _retired_model(conn, name: str, log) -> dict:
    """A model marked retired is never called: its logged answers are all there is."""
    requests, logged = _sampled_requests(conn, name)
    total = len(requests)
    if not logged:
        raise Failure(f"`{name}` is marked `retired: true`, but none of the {total} sampled "
                      "requests has a logged answer from it: supply production's answers in the "
                      "traffic file's `response` and `model` columns")
    if logged < total:
        log.warning(f"`{name}` is retired and {total - logged} of {total} sampled requests have "
                    "no logged answer from it: they are left out of its comparisons")
    return {"retired": True, "logged": logged, "without_answer": total - logged}


def _send(conn, config: ReplayConfig, requests, spec, key, url, limits, log) -> dict:
    if not config.batch:
        return replay_into(conn, requests, spec, key, url, limits, refresh=config.refresh)
    if spec.provider not in BATCH_PROVIDERS:
        log.warning(f"{spec.name}: provider {spec.provider!r} has no batch API; replayed online")
        return replay_into(conn, requests, spec, key, url, limits, refresh=config.refresh)
    return replay_batch_into(conn, requests, spec, key, url,
                             BatchPolicy(poll_interval_s=config.batch_poll_interval_s),
                             refresh=config.refresh)


# Single-run backfills are a beta API in Dagster 1.13; we rely on it knowingly.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=BetaWarning)


# Every replay step is in this pool: `dagster instance concurrency set llm_replay 1` keeps
# overlapping runs (a scheduled replay and a backfill) from each sending at a model's limits.
REPLAY_POOL = "llm_replay"


# The check covers the models of the run's partitions (a single-run backfill of every model, or
# one new candidate's partition): what this materialization replayed.
@asset(deps=[traffic_sample], group_name="replay", partitions_def=MODEL_PARTITIONS,
       backfill_policy=BackfillPolicy.single_run(), pool=REPLAY_POOL, kinds={"duckdb"},
       metadata=table_metadata("responses"),
       check_specs=[AssetCheckSpec(
           CHECK, asset="replay_responses", blocking=True,
           description="No model replayed in this run failed on more than max_error_rate of "
                       "its requests; blocks the scores and every decision")],
       description="Model answers with status, latency, tokens and cost (table `responses`), "
                   "partitioned by model.")
def replay_responses(
    context: AssetExecutionContext, config: ReplayConfig, models: ModelRegistry,
    warehouse: Warehouse,
):
    this_run, retired_without_answers = {}, []
    for name in context.partition_keys:
        if name not in models.names():
            context.log.warning(f"partition {name!r} is not in the model registry: skipped")
            continue
        try:
            if models.model(name).retired:
                with warehouse.connect() as conn:
                    this_run[name] = _retired_model(conn, name, context.log)
                continue
            with warehouse.connect() as conn, models.endpoint(name) as (spec, key, url):
                this_run[name] = _replay_model(conn, config, spec, key, url,
                                               models.limits(name), context.log)
        except Failure as failure:  # a retired model with nothing logged: the others go on
            retired_without_answers.append(failure.description)
            continue
        context.log.info(f"{name}: {this_run[name]}")
        if this_run[name].get("pending"):
            context.log.warning(f"{name}: {this_run[name]['pending']} requests are in batches "
                                "still running or not yet settled (`unsettled`); the next run "
                                "resumes them")
    with warehouse.connect() as conn:
        stats = conn.execute("SELECT * FROM v_replay_stats ORDER BY model").df()
        errors = conn.execute(read_query("replay_errors")).df()
    failed = sum(run.get("failed", 0) for run in this_run.values())
    if failed:
        context.log.warning(f"{failed} requests failed; they stay in `responses` and are "
                            "retried on the next run")
    if retired_without_answers:
        raise Failure("\n".join(retired_without_answers),
                      metadata={"this_run": this_run})
    figure = {"cost_and_latency": MetadataValue.md(markdown_image(
        replay_costs(stats), "replay cost and latency per model"))} if len(stats) else {}
    yield MaterializeResult(metadata={
        "this_run": this_run,
        **figure,
        "by_model": {f"{row.pop('model')}/{row.pop('source')}": row
                     for row in stats.round(6).to_dict("records")},
        "dagster/row_count": int(stats["requests"].sum()),
    })
    # A model found retired at its provider is compared on its logged answers: its refused
    # replay is no error of this run.
    replayed = [name for name, run in this_run.items() if not run.get("retired")]
    yield logged(context, replay_check(errors[errors["model"].isin(replayed)],
                                       config.max_error_rate))


def replay_check(errors: pd.DataFrame, max_error_rate: float) -> AssetCheckResult:
    """replay_succeeded from the replay_errors query's rows of the models this run replayed."""
    errors = errors.assign(error_rate=errors["failed"] / errors["requests"])
    bad = errors[errors["error_rate"] > max_error_rate]
    metadata = {"max_error_rate": max_error_rate,
                "by_model": MetadataValue.md(markdown_table(errors.round({"error_rate": 4}))
                                             if len(errors) else "no model replayed")}
    if bad.empty:
        return AssetCheckResult(
            check_name=CHECK, passed=True, metadata=metadata,
            description=f"{len(errors)} models replayed, none failed on more than "
                        f"{max_error_rate:.0%} of its requests")
    named = "; ".join(f"{row.model!r}: {row.failed} of {row.requests} requests failed "
                      f"({row.error_rate:.0%}), e.g. {str(row.example)[:200]}"
                      for row in bad.itertuples())
    return AssetCheckResult(
        check_name=CHECK, passed=False, metadata=metadata,
        description=f"{named}. Above max_error_rate {max_error_rate:.0%}, so no score, fit "
                    "or decision is made from this replay. Check the model's registry entry "
                    "(model_id, base_url, limits), its API key and the provider's status; the "
                    "failed requests (table responses, status 'error', column error) are "
                    "retried when replay_responses runs again for that model")
