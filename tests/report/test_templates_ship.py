"""The report's templates are package data: a wheel of the project carries every one."""

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_template_is_package_data():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["pipeline.report"]
    package = ROOT / "pipeline" / "report"
    templates = [p.relative_to(package).as_posix() for p in (package / "templates").iterdir()]
    assert templates
    for name in templates:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


def test_the_templates_load_from_the_package():
    from pipeline.report.html import TEMPLATE, environment

    assert environment().get_template(TEMPLATE).render(r=_empty()).count("<section") == 9


def _empty() -> dict:
    from pipeline.report.html import SECTIONS

    return {"sections": SECTIONS, "incumbent": None, "generated_at": None, "prob": 0.95,
            "verdicts": [], "decisions_by_candidate": {}, "labels_used": [],
            "labels_needed_total": 0, "label_queue": [], "queue_rows_shown": 50,
            "diagnostics": [], "checks": [], "drift": [], "replay": [],
            "inputs": {"thresholds": {"max_r_hat": 1.01, "min_ess": 400}, "fits": []},
            "figures": {"delta": {}, "calibration": {}, "replay": None, "fits": []},
            "fits_note": ""}
