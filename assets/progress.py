"""The ``stages`` logger: one console line per finished step with its time, for commands that
run a job in-process (``llm-migrate demo`` and ``run``). A run's configuration switches it
on; every event still lands in the run's log either way."""

import logging
import sys
import time

from dagster import InitLoggerContext, logger

SHOWN = {"STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED"}


class StageLines(logging.Handler):
    """Prints a line for each step that ends, and drops every other record."""

    def __init__(self, stream=None):
        super().__init__(logging.DEBUG)
        self.stream = stream
        self.started = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        if event is None or event.event_type_value not in SHOWN:
            return
        took = getattr(event.event_specific_data, "duration_ms", None)
        took = "" if took is None else f" in {took / 1000:.1f} s"
        print(f"[{time.monotonic() - self.started:5.0f} s] {event.step_key}: "
              f"{SHOWN[event.event_type_value]}{took}", file=self.stream or sys.stderr,
              flush=True)


@logger(description="One line per finished step with its time (llm-migrate demo and run).")
def stages(_init_context: InitLoggerContext) -> logging.Logger:
    lines = logging.getLogger("llm_migrate.stages")
    lines.setLevel(logging.DEBUG)
    lines.propagate = False
    lines.handlers = [StageLines()]
    return lines
