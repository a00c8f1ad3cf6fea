"""replay_responses: every sampled request answered by every model in the registry."""

from dagster import AssetExecutionContext, Config, MaterializeResult, asset

from pipeline.replay_store import replay_into
from resources import ModelRegistry, Warehouse

from assets.traffic_sample import traffic_sample


class ReplayConfig(Config):
    refresh: bool = False  # re-send requests that already have a successful response


@asset(deps=[traffic_sample], group_name="replay",
       description="Model answers with status, latency, tokens and cost (table `responses`).")
def replay_responses(
    context: AssetExecutionContext, config: ReplayConfig, models: ModelRegistry,
    warehouse: Warehouse,
) -> MaterializeResult:
    this_run = {}
    for name in models.names():
        with warehouse.connect() as conn, models.endpoint(name) as (spec, key, url):
            requests = conn.execute("SELECT request_id, system, prompt FROM traffic").df()
            this_run[name] = replay_into(conn, requests, spec, key, url, models.limits(),
                                         refresh=config.refresh)
        context.log.info(f"{name}: {this_run[name]}")
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
