"""replay_responses: every sampled request answered by every model in the registry."""

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, asset

from pipeline.replay import request_hash
from pipeline.warehouse import insert_frame
from resources import ModelRegistry, Warehouse

from assets.traffic_sample import traffic_sample

_PENDING = """
SELECT t.request_id, t.system, t.prompt, r.request_hash AS done_hash, r.status, r.attempts
FROM traffic t LEFT JOIN responses r ON r.request_id = t.request_id AND r.model = ?
"""


class ReplayConfig(Config):
    refresh: bool = False  # re-send requests that already have a successful response


@asset(deps=[traffic_sample], group_name="replay",
       description="Model answers with status, latency, tokens and cost (table `responses`).")
def replay_responses(
    context: AssetExecutionContext, config: ReplayConfig, models: ModelRegistry,
    warehouse: Warehouse,
) -> MaterializeResult:
    summary = {}
    for name in models.names():
        spec = models.model(name).spec()
        with warehouse.connect() as conn:
            rows = conn.execute(_PENDING, [name]).df()
        # A successful answer to the same content is reused; failures are always retried.
        same = rows["done_hash"] == [request_hash(spec, s, p) for s, p in zip(rows["system"], rows["prompt"])]
        todo = rows if config.refresh else rows[~(same & (rows["status"] == "ok"))]
        records = models.replay(todo, name)
        if len(records):
            previous = todo.set_index("request_id")["attempts"].fillna(0)
            records["attempts"] += records["request_id"].map(previous).astype(int)
            records["replayed_at"] = pd.Timestamp.now(tz="UTC")
            with warehouse.connect() as conn:
                insert_frame(conn, "responses", records, or_replace=True)
        failed = int((records["status"] != "ok").sum()) if len(records) else 0
        summary[name] = {"sent": len(todo), "cached": len(rows) - len(todo), "failed": failed}
        context.log.info(f"{name}: sent {len(todo)}, reused {len(rows) - len(todo)}, failed {failed}")
    with warehouse.connect() as conn:
        stats = conn.execute("SELECT * FROM v_replay_stats ORDER BY model").df()
    return MaterializeResult(metadata={
        "this_run": summary,
        "by_model": {r.model: {k: (None if v != v else round(float(v), 6))
                               for k, v in r._asdict().items() if k != "model"}
                     for r in stats.itertuples(index=False)},
    })
