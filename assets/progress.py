"""The ``stages`` logger: one console line per finished step with its time (and the progress of
long steps), for commands that run a job in-process (``llm-migrate demo`` and ``run``). A run's
configuration switches it on; every event still lands in the run's log either way."""

import logging
import sys
import time

from dagster import AssetCheckResult, AssetCheckSeverity, InitLoggerContext, logger

SHOWN = {"STEP_SUCCESS": "done", "STEP_FAILURE": "FAILED"}
# An asset's info message that starts with this is progress worth a console line (a long
# scoring run's rate and time left); other info messages stay in the run log.
PROGRESS = "progress: "


class StageLines(logging.Handler):
    """Prints a line for each step that ends (a failure with its error's first line), and the
    first line of each warning or error the assets log; Dagster's other records, stack traces
    included, stay in the run log."""

    def __init__(self, stream):
        super().__init__(logging.DEBUG)
        self.stream = stream
        self.started = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None:
            message = meta.get("orig_message") or record.getMessage()
            step = meta.get("step_key") or "run"
            if record.levelno >= logging.WARNING:
                self._line(f"{step}: {record.levelname.lower()}: {_first_line(message)}")
            elif message.startswith(PROGRESS):
                self._line(f"{step}: {_first_line(message[len(PROGRESS):])}")
            return
        if event.event_type_value not in SHOWN:
            return
        data = event.event_specific_data
        took = getattr(data, "duration_ms", None)
        took = "" if took is None else f" in {took / 1000:.1f} s"
        error = getattr(getattr(data, "error", None), "message", None)
        self._line(f"{event.step_key}: {SHOWN[event.event_type_value]}{took}"
                   + (f": {_first_line(error)}" if error else ""))

    def _line(self, text: str) -> None:
        try:
            print(f"[{time.monotonic() - self.started:5.0f} s] {text}", file=self.stream,
                  flush=True)
        except ValueError:  # the console went away (a closed stream): the run log has it all
            pass


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit - 3] + "..."


@logger(description="One line per finished step with its time (llm-migrate demo and run).")
def stages(_init_context: InitLoggerContext) -> logging.Logger:
    lines = logging.getLogger("llm_migrate.stages")
    lines.setLevel(logging.DEBUG)
    lines.propagate = False
    # The console as the run starts: during a step Dagster may swap sys.stderr for its
    # compute-log capture, which is closed when the step ends.
    lines.handlers = [StageLines(sys.stderr)]
    return lines


def logged(context, result: AssetCheckResult) -> AssetCheckResult:
    """``result``, its message logged when it failed (an error when it blocks what follows,
    else a warning), so the console of `llm-migrate run` says why a step stopped."""
    if not result.passed:
        log = context.log.error if result.severity == AssetCheckSeverity.ERROR \
            else context.log.warning
        log(f"{result.check_name}: {result.description}")
    return result
