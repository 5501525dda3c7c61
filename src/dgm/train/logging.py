"""``metrics.jsonl`` (one JSON object per line) and the live progress bar."""

import json
import math
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def json_line(record: dict[str, Any]) -> str:
    """Strict JSON of a flat record: non-finite numbers (e.g. an undefined KL) become null."""
    clean = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}
    return json.dumps(clean, allow_nan=False)


class MetricsLog:
    """Append-only ``metrics.jsonl``. Lines are ``{"step": n, "kind": "train"|"eval", ...}``."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        self._handle = None

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (work lost since the checkpoint being resumed), and a
        last line cut short by a crash."""
        if not self.enabled or not self.path.exists():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
        self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        """Append one line; the file stays open, line-buffered, so every line reaches the OS at once."""
        if self.enabled:
            if self._handle is None:
                self._handle = open(self.path, "a", buffering=1)  # noqa: SIM115 -- closed by close()
            self._handle.write(json_line(record) + "\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def make_progress(enabled: bool) -> Progress:
    """A rich progress bar whose ``losses`` field shows the latest losses."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[losses]}"),
        disable=not enabled,
        transient=False,
    )
