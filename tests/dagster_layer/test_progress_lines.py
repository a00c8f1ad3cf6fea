"""The console lines of in-process runs (llm-migrate demo and run): a line per finished step,
warnings, and the progress of long steps; every other record stays in the run log."""

import io
import logging
from types import SimpleNamespace

from assets.auto_scores import progress
from assets.progress import PROGRESS, StageLines


def _record(level: int, message: str, event=None, step: str = "auto_scores"):
    record = logging.LogRecord("dagster", level, __file__, 1, message, None, None)
    record.dagster_meta = {"orig_message": message, "step_key": step, "dagster_event": event}
    return record


def _lines(*records) -> list[str]:
    out = io.StringIO()
    handler = StageLines(out)
    for record in records:
        handler.emit(record)
    return [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]


def test_steps_warnings_and_progress_reach_the_console_and_nothing_else():
    done = SimpleNamespace(event_type_value="STEP_SUCCESS", step_key="auto_scores",
                           event_specific_data=SimpleNamespace(duration_ms=2500, error=None))
    started = SimpleNamespace(event_type_value="STEP_START", step_key="auto_scores",
                              event_specific_data=None)
    assert _lines(
        _record(logging.DEBUG, "loading", started),
        _record(logging.INFO, "bertscore: 10/20 responses (run log only)"),
        _record(logging.INFO, f"{PROGRESS}bertscore: {progress(2000, 6000, 31.0)}"),
        _record(logging.WARNING, "8 rows quarantined\nsecond line"),
        _record(logging.INFO, "done", done),
    ) == ["auto_scores: bertscore: 2000/6000 responses, 65/s, about 62 s left",
          "auto_scores: warning: 8 rows quarantined",
          "auto_scores: done in 2.5 s"]
