"""cascade_plan: the cascade alternative to one replacement (issue 18). Opt-in: no job of the
pipeline runs it (materialize it on request); migration_decision never waits for it."""

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from assets.human_labels import human_labels
from assets.metadata import table_metadata
from assets.replay_responses import replay_responses
from pipeline.data.markdown import escape_cell, markdown_table
from pipeline.data.warehouse import insert_frame, read_query, transaction
from pipeline.report import CASCADE_PLOTS
from pipeline.report.images import markdown_image
from pipeline.report.plots import cascade_curve
from pipeline.scoring.judge import serving_confidence
from pipeline.stats.cascade import MODEL_VERSION as CASCADE_VERSION
from pipeline.stats.cascade_plan import (
    FOLDS,
    CascadeUnavailable,
    cascade_items,
    needs_judge,
    plan_cascade,
    singles,
)
from resources import Artifacts, ModelRegistry, Warehouse


class CascadePlanConfig(Config):
    cascades: list[list[str]] = Field(
        default_factory=list,
        description="cascades to consider, each a list of the registry names of its models "
                    "in order, cheapest first (e.g. [['small', 'large']]); empty: one "
                    "cascade of the candidates that are not retired, by registry price (price "
                    "in + out per Mtok; at equal price those with log-probabilities first)")
    correct_at: float = Field(
        4.0, description="an answer is correct when its mean correctness label is at least this")
    judge_model: str | None = Field(
        None, description="registry name of the serving-time judge: the confidence of a model "
                          "whose provider returns no log-probabilities (Anthropic) is the "
                          "judge's correctness grade of its answer, shown no reference; its "
                          "price is added to the model's cost unless the model is last (its "
                          "confidence decides nothing). Unset: such a model can only be last, "
                          "with a constant confidence")
    folds: int = Field(FOLDS, ge=2, description="folds of the cross-validation that measures "
                                                "each point's error and cost held out")
    seed: int = Field(0, description="seed of the folds' shuffle")


def default_cascade(models: ModelRegistry) -> list[str]:
    """The candidates still served, by registry price; at equal price the models that ask for
    log-probabilities first (a model without confidence can only be last), then by name."""
    chosen = [models.model(name) for name in models.candidates()
              if not models.model(name).retired]
    chosen.sort(key=lambda m: (m.price_in_per_mtok + m.price_out_per_mtok, not m.spec().logprobs,
                               m.name))
    return [m.name for m in chosen]


def _with_judge(rows: pd.DataFrame, cascade: list[str], config: CascadePlanConfig,
                models: ModelRegistry, judged: dict) -> pd.DataFrame:
    """``rows`` with the serving-time judge's grade of the labelled answers of every model of
    the cascade that needs one (judged once per model in a run: ``judged`` keeps them)."""
    todo = [m for m in needs_judge(rows, cascade) if m not in judged]
    if todo and config.judge_model:
        answers = rows[rows["model"].isin(todo)].drop_duplicates(["request_id", "model"])
        with models.endpoint(config.judge_model) as (spec, api_key, base_url):
            graded = serving_confidence(answers, spec, api_key, base_url,
                                        models.limits(config.judge_model))
        for model in todo:
            judged[model] = graded[graded["model"] == model]
    grades = [judged[m] for m in cascade if m in judged]
    if not grades:
        return rows
    return rows.merge(pd.concat(grades), on=["request_id", "model"], how="left")


def _curve_rows(curve: pd.DataFrame, models: list[str], items: int, best: dict, how: str,
                sources: dict, run_id: str, fitted_at: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({
        "run_id": run_id, "fitted_at": fitted_at, "cascade": " > ".join(models),
        "models": [list(models)] * len(curve), "point": range(len(curve)),
        "cost_weight": curve["cost_weight"].astype(float),
        "thresholds": curve["thresholds"], "expected_error": curve["expected_error"],
        "expected_cost": curve["expected_cost"], "measured_error": curve["measured_error"],
        "measured_cost": curve["measured_cost"], "n_items": items,
        "best_single_model": best["model"], "best_single_error": best["error"],
        "best_single_cost": best["cost"], "measured_on": how,
        "in_sample_error": curve["in_sample_error"], "in_sample_cost": curve["in_sample_cost"],
        "confidence_sources": [[sources[m] for m in models]] * len(curve)})


def _shown(name: str, curve: pd.DataFrame, best: dict, how: str, sources: dict,
           plot: bytes) -> str:
    points = curve[["cost_weight", "expected_error", "expected_cost", "measured_error",
                    "measured_cost"]].assign(
        thresholds=[", ".join(f"{t:.3g}" for t in ts) for ts in curve["thresholds"]])
    confidence = "; ".join(f"{escape_cell(m)}: {s}" for m, s in sources.items())
    return (f"Best single model: **{escape_cell(best['model'])}**, error {best['error']:.3f} "
            f"at {best['cost']:.3g} USD a request. Confidence: {confidence}. Measured held "
            f"out: {how}.\n\n" + markdown_image(plot, f"error-cost curve: {name}") + "\n\n"
            + markdown_table(points))


@asset(deps=[replay_responses, human_labels], group_name="cascade", kinds={"duckdb"},
       code_version=CASCADE_VERSION, metadata=table_metadata("cascade_curves"),
       description="Error-cost curve of routing each request cheap-first through a cascade of "
                   "the candidates, deferring below a confidence threshold (Markov-copula "
                   "model, pipeline.cascade), each point measured held out (cross-validation), "
                   "against the best single model (table `cascade_curves`, every run kept; "
                   "the curve as a plot in the metadata and under the artifacts root, "
                   "`cascade_plan/cascade-N.png`). Opt-in: materialize it on request.")
def cascade_plan(context: AssetExecutionContext, config: CascadePlanConfig,
                 models: ModelRegistry, warehouse: Warehouse,
                 artifacts: Artifacts) -> MaterializeResult:
    cascades = config.cascades or [default_cascade(models)]
    if config.judge_model:
        models.model(config.judge_model)  # a judge not in the registry fails here, naming it
    with warehouse.read() as conn:
        rows = conn.execute(read_query("cascade_rows")).df()
    fitted_at, frames, shown, skipped, judged = pd.Timestamp.now(tz="UTC"), [], {}, {}, {}
    for cascade in cascades:
        name = " > ".join(cascade)
        try:
            if len(cascade) < 2:
                raise CascadeUnavailable("a cascade needs at least two models")
            for model in cascade:
                models.model(model)  # a name not in the registry fails here, naming it
            found = cascade_items(_with_judge(rows, cascade, config, models, judged), cascade,
                                  config.correct_at)
            _, curve, best, how = plan_cascade(found.items, cascade, folds=config.folds,
                                               seed=config.seed, added_cost=found.added_cost)
        except (CascadeUnavailable, ValueError) as why:  # the data cannot support it
            context.log.warning(f"cascade {name}: not fitted: {why}")
            skipped[name] = str(why)
            continue
        frames.append(_curve_rows(curve, cascade, found.items["item_id"].nunique(), best, how,
                                  found.sources, context.run_id, fitted_at))
        plot = cascade_curve(curve, singles(found.items, cascade, found.added_cost), name,
                             how)
        shown[name] = (curve, best, how, found.sources, plot)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(table):
        with warehouse.connect() as conn, transaction(conn):
            insert_frame(conn, "cascade_curves", table)
    store = artifacts.store()
    metadata = {"dagster/row_count": len(table), "cascades": list(shown),
                "skipped": MetadataValue.json(skipped),
                "judged_answers": sum(len(g) for g in judged.values())}
    for number, (name, (curve, best, how, sources, plot)) in enumerate(shown.items(), 1):
        latest = store.write_bytes(plot, CASCADE_PLOTS, f"cascade-{number}.png")
        store.write_bytes(plot, CASCADE_PLOTS, context.run_id, f"cascade-{number}.png")
        context.log.info(f"cascade {name}: curve plotted to {latest}")
        metadata[f"plot: {name}"] = MetadataValue.path(latest)
        metadata[f"curve: {name}"] = MetadataValue.md(_shown(name, curve, best, how, sources,
                                                             plot))
    return MaterializeResult(metadata=metadata)
