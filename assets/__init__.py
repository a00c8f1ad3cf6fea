"""Thin Dagster assets, one file per stage, each named after what it produces."""

from assets.auto_scores import auto_scores
from assets.calibration_drift import calibration_drift
from assets.cascade_plan import cascade_plan
from assets.human_labels import human_labels
from assets.label_queue import label_queue
from assets.migration_decision import migration_decision
from assets.migration_report import migration_report
from assets.population_posterior import population_posterior
from assets.replay_fidelity import replay_fidelity
from assets.replay_responses import replay_responses
from assets.table_checks import TABLE_CHECKS
from assets.traffic_sample import traffic_sample

ALL_ASSETS = [
    traffic_sample, replay_responses, replay_fidelity, auto_scores, human_labels,
    calibration_drift, population_posterior, migration_decision, label_queue, migration_report,
    cascade_plan,
]
# The non-blocking table checks (the blocking ones are part of their assets: check_specs)
ALL_CHECKS = list(TABLE_CHECKS)
