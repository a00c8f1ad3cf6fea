"""replay_responses: the sampled requests answered by each model, one partition per model."""

import warnings

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    BetaWarning,
    Config,
    MaterializeResult,
    asset,
)

from assets.partitions import MODEL_PARTITIONS
from assets.traffic_sample import traffic_sample
from pipeline.replay.batch import BATCH_PROVIDERS, BatchPolicy, replay_batch_into
from pipeline.replay.store import replay_into
from resources import ModelRegistry, Warehouse


class ReplayConfig(Config):
    refresh: bool = False  # re-send requests that already have a successful response
    # Through the provider's batch API at its lower price (OpenAI and Anthropic models; others
    # replay online). Batches are recorded in `batches` and resumed by the next run if this
    # one stops before they end.
    batch: bool = False
    batch_poll_interval_s: float = 30.0


def _replay_model(conn, config: ReplayConfig, spec, key, url, limits, log) -> dict:
    requests = conn.execute("SELECT request_id, system, prompt FROM traffic").df()
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


@asset(deps=[traffic_sample], group_name="replay", partitions_def=MODEL_PARTITIONS,
       backfill_policy=BackfillPolicy.single_run(), pool=REPLAY_POOL,
       description="Model answers with status, latency, tokens and cost (table `responses`), "
                   "partitioned by model.")
def replay_responses(
    context: AssetExecutionContext, config: ReplayConfig, models: ModelRegistry,
    warehouse: Warehouse,
) -> MaterializeResult:
    this_run = {}
    for name in context.partition_keys:
        if name not in models.names():
            context.log.warning(f"partition {name!r} is not in the model registry: skipped")
            continue
        with warehouse.connect() as conn, models.endpoint(name) as (spec, key, url):
            this_run[name] = _replay_model(conn, config, spec, key, url, models.limits(name),
                                           context.log)
        context.log.info(f"{name}: {this_run[name]}")
        if this_run[name].get("pending"):
            context.log.warning(f"{name}: {this_run[name]['pending']} requests are in batches "
                                "still running or not yet settled (`unsettled`); the next run "
                                "resumes them")
    with warehouse.connect() as conn:
        stats = conn.execute("SELECT * FROM v_replay_stats ORDER BY model").df()
    failed = sum(run["failed"] for run in this_run.values())
    if failed:
        context.log.warning(f"{failed} requests failed; they stay in `responses` and are "
                            "retried on the next run")
    return MaterializeResult(metadata={
        "this_run": this_run,
        "by_model": {row.pop("model"): row for row in stats.round(6).to_dict("records")},
    })
