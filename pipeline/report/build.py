"""From the evidence of a warehouse (``evidence.gather``) and, where they are at hand, the
fits' InferenceData, to the figures and the report page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd

from pipeline.data.markdown import escape_cell
from pipeline.report import plots
from pipeline.report.evidence import EVERY_DIMENSION, Evidence, gather, saved_fits
from pipeline.report.html import records, render
from pipeline.report.images import data_uri, markdown_image

# What each dimension's automated signal is (pipeline.stats.calibration.build_features).
AUTO_SIGNAL = {"correctness": "ROUGE-L F against the reference",
               "refusal": "probability the refusal behaviour is right (refusal detector)",
               "style": "share of style checks passed"}
QUEUE_ROWS_SHOWN = 50
NO_FITS = ("No saved fit at hand: the trace, rank and posterior predictive plots need the "
           "fits' InferenceData.")


def delta_figures(deltas: pd.DataFrame, decisions: pd.DataFrame,
                  verdicts: Mapping[str, str]) -> dict[str, bytes]:
    """candidate -> the posterior of its Δ per dimension and region, with the margins and
    the decisions (plots.delta_posterior). ``deltas``: rows of delta_draws; ``decisions``:
    of one decision run; ``verdicts``: candidate -> verdict."""
    out = {}
    for candidate, decided in decisions.groupby("candidate", sort=True):
        draws = deltas[deltas["candidate"] == candidate]
        if not draws.empty:
            title = f"{candidate}: {verdicts.get(candidate, 'no verdict')}"
            out[candidate] = plots.delta_posterior(draws, decided, title)
    return out


def calibration_figures(features: pd.DataFrame, incumbent: str | None) -> dict[str, bytes]:
    """dimension -> its labelled responses, human against automated score, per model (the
    incumbent first), with each model's fitted line (plots.calibration). ``features``: rows
    of ``build_features``; unlabelled ones are left out."""
    out = {}
    labelled = features.dropna(subset=["human"])
    for dimension, rows in labelled.groupby("dimension", sort=True):
        order = sorted(rows["model"].unique(), key=lambda m: (m != incumbent, m))
        rows = rows.set_index("model").loc[order].reset_index()
        out[dimension] = plots.calibration(
            rows, f"{dimension}: automated score against people",
            AUTO_SIGNAL.get(dimension, "automated score"), f"human score ({dimension})")
    return out


def cascade_figures(curves: pd.DataFrame) -> list[dict]:
    """Per cascade of the latest cascade plan (rows of ``cascade_curves``): its name, the
    models' confidence sources, how the curve was measured, the best single model and the
    curve's plot (plots.cascade_curve, with the best single model as the one star)."""
    out = []
    for name, rows in curves.groupby("cascade", sort=False):
        first = rows.iloc[0]
        best = pd.DataFrame({"model": [first["best_single_model"]],
                             "error": [first["best_single_error"]],
                             "cost": [first["best_single_cost"]]})
        how = first.get("measured_on")
        how = None if pd.isna(how) else str(how)
        sources = first.get("confidence_sources")
        out.append({
            "name": name, "n_items": int(first["n_items"]), "measured_on": how,
            "best": records(best)[0],
            "sources": [] if sources is None or not len(sources) else
            [{"model": m, "source": s} for m, s in zip(first["models"], sources)],
            "points": [{**point, **{c: _significant(point[c]) for c in
                                    ("cost_weight", "expected_cost", "measured_cost")}}
                       for point in records(rows[["cost_weight", "expected_error",
                                                  "expected_cost", "measured_error",
                                                  "measured_cost"]])],
            "plot": plots.cascade_curve(rows, best, name, how)})
    return out


def _significant(value) -> str | None:
    """A cost or cost weight in three significant digits (a USD cost a request is tiny)."""
    return None if value is None else f"{value:.3g}"


def markdown_figures(figures: Mapping[str, bytes], what: str) -> str:
    """The figures as one markdown text for Dagster's metadata: a heading per name (escaped,
    names are data) and its image inline."""
    return "\n\n".join(f"**{escape_cell(name)}**\n\n{markdown_image(png, f'{what}: {name}')}"
                        for name, png in figures.items())


def fit_figures(fits: Mapping[tuple[str, str], object]) -> list[dict]:
    """Per fit ((candidate, dimension) -> InferenceData; candidates of one joint fit share
    theirs, drawn once): the trace and rank plot of its worst parameter, and its posterior
    predictive check where the fit carries one."""
    shared: dict[int, list] = {}
    for (candidate, dimension), idata in sorted(fits.items(), key=lambda kv: kv[0]):
        if idata is not None:
            shared.setdefault(id(idata), [idata, dimension, []])[2].append(candidate)
    out = []
    for idata, dimension, candidates in shared.values():
        name = f"{', '.join(candidates)}, {dimension}"
        worst = plots.worst_parameter(idata)
        entry = {"candidate": ", ".join(candidates), "dimension": dimension,
                 "parameter": plots.parameter_label(worst), "worst": worst,
                 "rank": plots.trace_rank(idata, worst, name), "ppc": None}
        if {"posterior_predictive", "observed_data"} <= set(idata.groups()):
            variable = next(iter(idata.observed_data.data_vars))
            entry["ppc"] = plots.predictive_check(idata, variable, name)
        out.append(entry)
    return out


def fits_by_slice(fits) -> dict[tuple[str, str], object]:
    """(candidate, dimension) -> InferenceData of the saved fits (``pipeline.stats.fits.Fit``:
    one per sampler run, several candidates in a joint one)."""
    return {(candidate, fit.dimension or EVERY_DIMENSION): fit.idata
            for fit in fits for candidate in fit.candidates}


def fit_markdown(fits: Mapping[tuple[str, str], object]) -> str:
    """The fits' figures as markdown for Dagster's metadata: per fit its worst parameter's
    trace and rank plot and its posterior predictive check."""
    parts = []
    for entry in fit_figures(fits):
        name = f"{entry['candidate']}, {entry['dimension']}"
        parts.append(f"**{escape_cell(name)}**: worst parameter "
                     f"{escape_cell(entry['parameter'])}, r_hat {entry['worst']['r_hat']:.3f}, "
                     f"bulk ESS {entry['worst']['ess_bulk']:.0f}\n\n"
                     + markdown_image(entry["rank"], f"trace and rank plot: {name}"))
        if entry["ppc"]:
            parts.append(markdown_image(entry["ppc"], f"posterior predictive check: {name}"))
    return "\n\n".join(parts) or "no fit"


def checks(evidence: Evidence) -> list[dict]:
    """What guards the verdict, as the warehouse records it: each fit's diagnostics, the
    label files' quarantined rows, the replay's errors, and the drift monitors."""
    rows = []
    for fit in records(evidence.diagnostics):
        rows.append({"name": f"fit diagnostics: {fit['candidate']}, {fit['dimension']}",
                     "status": "pass" if fit["failures"] is None else "fail",
                     "detail": fit["failures"] or
                     f"max r_hat {fit['max_r_hat']:.3f}, min bulk ESS {fit['min_ess_bulk']:.0f}, "
                     f"{fit['divergences']} divergences"})
    for file in records(evidence.quarantine):
        rows.append({"name": f"label file {file['source']}", "status": "info",
                     "detail": f"{file['rows']} rows quarantined, e.g. {file['first_reason']}"})
    for model in records(evidence.replay):
        failed = model["requests"] - model["succeeded"]
        rows.append({"name": f"replay: {model['model']} ({model['source']})",
                     "status": "pass" if not failed else "info",
                     "detail": f"{failed} of {model['requests']} requests failed "
                               f"(error rate {model['error_rate']:.1%})"})
    if not evidence.drift.empty:
        alarms = evidence.drift[evidence.drift["alarm"].astype(bool)]
        rows.append({"name": "calibration drift", "status": "fail" if len(alarms) else "pass",
                     "detail": f"{len(alarms)} alarms in {len(evidence.drift)} monitors"})
    return rows


def report_context(evidence: Evidence, fits: Mapping | None = None,
                   generated_at: dt.datetime | None = None, fits_note: str = NO_FITS) -> dict:
    """Everything the template reads: tables as records, figures as data URIs. ``fits``:
    (candidate, dimension) -> InferenceData of the fits behind Δ, where at hand
    (``evidence.saved_fits``); ``fits_note`` says why, where they are not."""
    decisions = evidence.decisions
    fit_entries = fit_figures(fits or {})
    for entry in fit_entries:
        entry["rank"] = data_uri(entry["rank"])
        entry["ppc"] = entry["ppc"] and data_uri(entry["ppc"])
    replay = plots.replay_costs(evidence.replay) if not evidence.replay.empty else None
    cascades = cascade_figures(evidence.cascade) if not evidence.cascade.empty else []
    for entry in cascades:
        entry["plot"] = data_uri(entry["plot"])
    return {
        "incumbent": evidence.incumbent,
        "generated_at": generated_at or pd.Timestamp.now(tz="UTC"),
        "prob": float(decisions["prob"].iloc[0]) if len(decisions) else 0.95,
        "verdicts": _verdicts(evidence),
        "decisions_by_candidate": {c: records(rows) for c, rows
                                   in decisions.groupby("candidate", sort=True)},
        "labels_used": records(evidence.labels_used),
        "labels_needed_total": _labels_needed(evidence),
        "label_queue": records(evidence.label_queue),
        "queue_rows_shown": QUEUE_ROWS_SHOWN,
        "diagnostics": records(evidence.diagnostics),
        "checks": checks(evidence),
        "drift": records(evidence.drift),
        "replay": records(evidence.replay),
        "inputs": {**evidence.inputs, "fits": records(pd.DataFrame(evidence.inputs["fits"]))},
        "figures": {
            "delta": {c: data_uri(p) for c, p in delta_figures(
                evidence.deltas, decisions, _verdict_of(evidence)).items()},
            "calibration": {d: data_uri(p) for d, p in calibration_figures(
                evidence.features, evidence.incumbent).items()},
            "replay": replay and data_uri(replay),
            "fits": fit_entries,
        },
        "fits_note": fits_note,
        "cascades": cascades,
    }


def _verdicts(evidence: Evidence) -> list[dict]:
    """Each candidate's verdict, with the slices that keep it from migrate (read from the
    decisions, never parsed out of v_migration_verdict's sentence)."""
    decisions = evidence.decisions
    out = []
    for verdict in records(evidence.verdicts):
        mine = decisions[decisions["candidate"] == verdict["candidate"]]
        # a hold is the slices that hold, a failed fit those that failed; otherwise every
        # slice that does not migrate
        if verdict["verdict"] in ("hold", "fit_failed"):
            mine = mine[mine["decision"] == verdict["verdict"]]
        else:
            mine = mine[mine["decision"] != "migrate"]
        regional = mine[mine["region"].notna()]
        blocking = regional if len(regional) else mine
        out.append({**verdict, "blocking": records(blocking[["dimension", "region",
                                                             "decision"]])})
    return out


def _verdict_of(evidence: Evidence) -> dict[str, str]:
    return dict(zip(evidence.verdicts.get("candidate", []), evidence.verdicts.get("verdict", [])))


def _labels_needed(evidence: Evidence) -> int:
    verdicts = evidence.verdicts
    if verdicts.empty or "labels_needed" not in verdicts:
        return 0
    return int(verdicts["labels_needed"].fillna(0).sum())


def migration_report(conn, store=None, generated_at: dt.datetime | None = None) -> str:
    """The report page of the warehouse behind ``conn`` (read only), with the fits saved
    under ``store`` (an ArtifactStore, the artifacts root) where they are."""
    evidence = gather(conn)
    fits, note = saved_fits(store, evidence.fit_files) if store else ({}, NO_FITS)
    return render(report_context(evidence, fits, generated_at, note))
