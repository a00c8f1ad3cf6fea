"""label_queue: the next requests to label for every slice that blocks a verdict, as a table
(the design, with inclusion probabilities) and a CSV annotators can fill in."""

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from assets.features import load_features
from assets.metadata import table_metadata
from assets.migration_decision import migration_decision
from pipeline.data.artifacts import ArtifactStore
from pipeline.data.labels import HASH_COLUMN, REQUIRED_COLUMNS
from pipeline.data.markdown import markdown_table
from pipeline.data.warehouse import insert_frame, read_query
from pipeline.stats.label_queue import label_queue as build_label_queue
from resources import Artifacts, ModelRegistry, Warehouse


class LabelQueueConfig(Config):
    floor: float = Field(0.2, gt=0, le=1,
                         description="uniform share of each slice's labelling budget")
    seed: int = Field(0, description="seed of the Poisson draw of requests")
    csv_dir: str = Field("", description="folder or URL for the annotators' CSV; empty: "
                                         "`label_queue/` under the artifacts root")


def annotation_sheet(queue: pd.DataFrame, incumbent: str, texts: pd.DataFrame) -> pd.DataFrame:
    """The requests to label, one row per (request, model, dimension) in the label-file format
    (`annotator`, `score` and `labeled_at` left to fill in), with the prompt and the response
    to judge, and its ``response_hash``, so a label ties to the text it judged. ``texts``:
    request_id, model, region, prompt, response, response_hash."""
    wanted = queue.loc[queue["to_label"].astype(bool),
                       ["request_id", "dimension", "candidate", "inclusion_prob"]]
    both = pd.concat([wanted.assign(model=wanted["candidate"]),
                      wanted.assign(model=incumbent)], ignore_index=True)
    sheet = (both.drop(columns="candidate")
             .drop_duplicates(["request_id", "model", "dimension"])
             .merge(texts, on=["request_id", "model"], how="left")
             .assign(annotator="", score="", labeled_at=""))
    return sheet[[*REQUIRED_COLUMNS, "region", "prompt", "response", HASH_COLUMN,
                  "inclusion_prob"]] \
        .sort_values(["dimension", "region", "request_id", "model"], ignore_index=True)



@asset(deps=[migration_decision], group_name="labels", kinds={"duckdb"},
       metadata=table_metadata("label_queue"),
       description="Active-labelling round for each slice that blocks a verdict (table "
                   "`label_queue`, appended), and a CSV of the requests to label.")
def label_queue(
    context: AssetExecutionContext, config: LabelQueueConfig, models: ModelRegistry,
    warehouse: Warehouse, artifacts: Artifacts,
) -> MaterializeResult:
    with warehouse.connect() as conn:
        blocking = conn.execute(read_query("blocking_slices")).df()
        features = load_features(conn)
        texts = conn.execute(
            "SELECT r.request_id, r.model, t.region, t.prompt, r.response, r.response_hash "
            "FROM v_answers r JOIN traffic t USING (request_id) WHERE r.status = 'ok'").df()
    queue = build_label_queue(features, blocking, models.incumbent, floor=config.floor,
                              seed=config.seed)
    queued_at = pd.Timestamp.now(tz="UTC")
    with warehouse.connect() as conn:
        insert_frame(conn, "label_queue", queue.assign(queued_at=queued_at))
    sheet = annotation_sheet(queue, models.incumbent, texts)
    metadata = {"slices": len(blocking), "requests_to_label": int(queue["to_label"].sum()),
                "dagster/row_count": len(queue)}
    if len(sheet):
        store = ArtifactStore(config.csv_dir) if config.csv_dir else artifacts.store()
        folder = () if config.csv_dir else ("label_queue",)
        path = store.write_text(sheet.to_csv(index=False), *folder,
                                f"label_queue-{queued_at:%Y%m%dT%H%M%SZ}.csv")
        metadata["csv"] = MetadataValue.path(path)
        context.log.info(f"{len(sheet)} responses to label: {path}")
    drawn = queue[queue["to_label"].astype(bool)]
    by_slice = (drawn.groupby(["candidate", "dimension", "region"], dropna=False).size()
                .rename("to_label").reset_index())
    metadata["by_slice"] = MetadataValue.md(markdown_table(by_slice)
                                            if len(by_slice) else "nothing blocks a verdict")
    return MaterializeResult(metadata=metadata)
