"""What ``make release`` shows while it follows a pipeline execution: a live table, or plain lines.

:class:`Progress` is the state of one execution (its stages and, per region,
the deployment's step and traffic); a view renders it after every poll.
``LiveView`` redraws a ``rich`` table in place on a terminal; ``LineView``
prints one line per change, for logs and CI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

FINISHED_PIPELINE = ("Succeeded", "Failed", "Stopped", "Superseded", "Cancelled")
STATUS_STYLE = {"Succeeded": "green", "Failed": "red", "InProgress": "yellow", "Abandoned": "red"}


def minutes(seconds: float) -> str:
    """A duration as ``<minutes>m<seconds>s``, never negative.

    AWS's start times, read against this machine's clock, can lie in its future (clock skew), and an end can be
    reported before its start: either reads ``0m00s``.
    """
    whole = max(int(seconds), 0)
    return f"{whole // 60}m{whole % 60:02d}s"


@dataclass
class RegionProgress:
    """One deploy action: a region's copy (production or staging) and its deployment."""

    label: str  # the region, or "staging <region>"
    region: str
    stage: str
    status: str = "Waiting"  # the action's status: InProgress, Succeeded, Failed
    deployment: str = ""  # CodeDeploy deployment ID or ECS service deployment ID
    step: str = ""  # the lifecycle event or stage in progress (or the last one)
    traffic: int | None = None  # percent of production traffic on the new revision
    started: float | None = None  # seconds since the release began
    ended: float | None = None
    detail: str = ""  # an error or rollback message
    attempt: str = ""  # the action execution shown (a retried stage runs a new one)
    until: datetime | None = None  # when the step it waits out ends: keeping blue, a bake, a window

    def left(self, now: datetime | None) -> str:
        """The step with the time it has left at ``now`` (the live table's step column)."""
        step = self.detail or self.step
        if self.until is None or now is None:
            return step
        return f"{step}: {minutes((self.until - now).total_seconds())} left"

    def elapsed(self, now: float) -> str:
        if self.started is None:
            return ""
        return minutes((self.ended if self.ended is not None else now) - self.started)

    def line(self) -> str:
        parts = [self.label, self.status]
        if self.deployment:
            parts.append(self.deployment)
        if self.step:
            parts.append(self.step)
        if self.traffic is not None:
            parts.append(f"{self.traffic}% traffic on the new revision")
        if self.until is not None:
            parts.append(f"until {self.until:%Y-%m-%d %H:%M} UTC")
        if self.detail:
            parts.append(self.detail)
        return " | ".join(parts)


@dataclass
class Progress:
    execution: str
    status: str = "InProgress"
    stages: dict[str, str] = field(default_factory=dict)  # stage name -> status
    regions: dict[str, RegionProgress] = field(default_factory=dict)  # by action name + stage
    waits: dict[str, RegionProgress] = field(default_factory=dict)  # by stage: waiting at its entry
    now: datetime | None = None  # this machine's time at the last poll

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_PIPELINE


class LineView:
    """Plain lines, one whenever the pipeline, a stage or a region changes (no terminal needed)."""

    def __init__(self, say: Callable[[str], None] = print) -> None:
        self.say = say
        self._shown: dict[str, str] = {}

    def __enter__(self) -> LineView:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, progress: Progress, now: float) -> None:
        lines = {"pipeline": f"pipeline {progress.execution}: {progress.status}"}
        lines |= {f"stage {name}": f"stage {name}: {status}" for name, status in progress.stages.items()}
        lines |= {key: row.line() for key, row in (*progress.waits.items(), *progress.regions.items())}
        for key, text in lines.items():
            if self._shown.get(key) != text:
                self._shown[key] = text
                self.say(f"[{minutes(now)}] {text}")


class LiveView:
    """A table redrawn in place: stages, then one row per region with its step, traffic and time."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._live = Live(console=self.console, auto_refresh=False, transient=False)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *args: object) -> None:
        self._live.__exit__(*args)

    def update(self, progress: Progress, now: float) -> None:
        self._live.update(render(progress, now), refresh=True)


def styled(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def render(progress: Progress, now: float) -> Group:
    stages = Text.assemble(
        *(
            part
            for name, status in progress.stages.items()
            for part in ((f"{name} ", ""), styled(status), "   ")
        )
    )
    table = Table(title=f"pipeline execution {progress.execution} ({minutes(now)})", title_justify="left")
    for column in ("region", "status", "step", "traffic", "elapsed", "deployment"):
        table.add_column(column)
    for region in (*progress.waits.values(), *progress.regions.values()):
        table.add_row(
            region.label,
            styled(region.status),
            region.left(progress.now),
            "" if region.traffic is None else f"{region.traffic}%",
            region.elapsed(now),
            region.deployment,
        )
    return Group(Text.assemble(("pipeline ", ""), styled(progress.status)), stages, table)
