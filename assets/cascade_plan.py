"""cascade_plan: the cascade alternative to one replacement (issue 18). Opt-in: no job of the
pipeline runs it (materialize it on request); migration_decision never waits for it."""

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from assets.human_labels import human_labels
from assets.metadata import table_metadata
from assets.replay_responses import replay_responses
from pipeline.data.markdown import markdown_table
from pipeline.data.warehouse import insert_frame, read_query, transaction
from pipeline.stats.cascade import MODEL_VERSION as CASCADE_VERSION
from pipeline.stats.cascade_plan import CascadeUnavailable, cascade_items, plan_cascade
from resources import ModelRegistry, Warehouse


class CascadePlanConfig(Config):
    cascades: list[str] = Field(
        default_factory=list,
        description="cascades to consider, each the registry names of its models in order, "
                    "cheapest first, separated by commas (e.g. 'small,large'); empty: one "
                    "cascade of the candidates that are not retired, by registry price (price "
                    "in + out per Mtok; at equal price those with log-probabilities first)")
    correct_at: float = Field(
        4.0, description="an answer is correct when its mean correctness label is at least this")


def default_cascade(models: ModelRegistry) -> list[str]:
    """The candidates still served, by registry price; at equal price the models that ask for
    log-probabilities first (a model without confidence can only be last), then by name."""
    chosen = [models.model(name) for name in models.candidates()
              if not models.model(name).retired]
    chosen.sort(key=lambda m: (m.price_in_per_mtok + m.price_out_per_mtok, not m.spec().logprobs,
                               m.name))
    return [m.name for m in chosen]


def _curve_rows(curve: pd.DataFrame, models: list[str], items: int, best: dict, run_id: str,
                fitted_at: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({
        "run_id": run_id, "fitted_at": fitted_at, "cascade": " > ".join(models),
        "models": [list(models)] * len(curve), "point": range(len(curve)),
        "cost_weight": curve["cost_weight"].astype(float),
        "thresholds": curve["thresholds"], "expected_error": curve["expected_error"],
        "expected_cost": curve["expected_cost"], "measured_error": curve["measured_error"],
        "measured_cost": curve["measured_cost"], "n_items": items,
        "best_single_model": best["model"], "best_single_error": best["error"],
        "best_single_cost": best["cost"]})


@asset(deps=[replay_responses, human_labels], group_name="cascade", kinds={"duckdb"},
       code_version=CASCADE_VERSION, metadata=table_metadata("cascade_curves"),
       description="Error-cost curve of routing each request cheap-first through a cascade of "
                   "the candidates, deferring below a confidence threshold (Markov-copula "
                   "model, pipeline.cascade), against the best single model (table "
                   "`cascade_curves`, every run kept). Opt-in: materialize it on request.")
def cascade_plan(context: AssetExecutionContext, config: CascadePlanConfig,
                 models: ModelRegistry, warehouse: Warehouse) -> MaterializeResult:
    cascades = [[n.strip() for n in c.split(",") if n.strip()] for c in config.cascades] \
        or [default_cascade(models)]
    with warehouse.read() as conn:
        rows = conn.execute(read_query("cascade_rows")).df()
    fitted_at, frames, shown, skipped = pd.Timestamp.now(tz="UTC"), [], {}, {}
    for cascade in cascades:
        name = " > ".join(cascade)
        try:
            if len(cascade) < 2:
                raise CascadeUnavailable("a cascade needs at least two models")
            for model in cascade:
                models.model(model)  # a name not in the registry fails here, naming it
            items = cascade_items(rows, cascade, config.correct_at)
            _, curve, best = plan_cascade(items, cascade)
        except (CascadeUnavailable, ValueError) as why:  # the data cannot support it
            context.log.warning(f"cascade {name}: not fitted: {why}")
            skipped[name] = str(why)
            continue
        frames.append(_curve_rows(curve, cascade, items["item_id"].nunique(), best,
                                  context.run_id, fitted_at))
        shown[name] = (curve, best)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(table):
        with warehouse.connect() as conn, transaction(conn):
            insert_frame(conn, "cascade_curves", table)
    metadata = {"dagster/row_count": len(table), "cascades": list(shown),
                "skipped": MetadataValue.json(skipped)}
    for name, (curve, best) in shown.items():
        points = curve[["cost_weight", "expected_error", "expected_cost", "measured_error",
                        "measured_cost"]].assign(
            thresholds=[", ".join(f"{t:.3g}" for t in ts) for ts in curve["thresholds"]])
        metadata[f"curve: {name}"] = MetadataValue.md(
            f"Best single model: **{best['model']}**, error {best['error']:.3f} at "
            f"{best['cost']:.3g} USD a request.\n\n" + markdown_table(points))
    return MaterializeResult(metadata=metadata)
