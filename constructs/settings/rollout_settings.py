"""How a release rolls out in each region: traffic shifting, alarms, rollback, test-traffic check."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from constructs.settings.config_checks import fail, require_int, require_str
from constructs.settings.service_settings import require_url_path

DEPLOYMENT_ENGINES = ("codedeploy", "ecs")
TRAFFIC_SHIFTING_MODES = ("all_at_once", "canary", "linear")
# (percentage, interval minutes) when a mode is chosen without its own numbers.
DEFAULT_STEPS = {"canary": (10, 5), "linear": (10, 3)}
MAX_MINUTES = 2880  # two days: CodeDeploy's limit for keeping the original task set
# CodePipeline stops waiting for a CodeDeploy ECS (blue/green) action after 5 days, a limit
# that cannot be set per action (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html).
ACTION_LIMIT_MINUTES = 5 * 24 * 60
# Allowance within that limit for green tasks to start and pass health checks and for lifecycle hooks
# (CodeDeploy gives a hook up to an hour).
START_AND_HOOKS_MINUTES = 120
# CodePipeline's ECS deploy action waits at most an hour (DeploymentTimeout 1-60 minutes).
ECS_ACTION_LIMIT_MINUTES = 60
# The pipeline resource's metadata that says how long a baked wave's regions keep blue: written by
# constructs/pipeline/release_pipeline.py, read by make plan (tools/plan/release_plan.py).
WAVE_BAKE_METADATA = "WaveBakeMinutes"
# Allowance within that hour for green tasks to start and pass health checks, for blue to drain
# (30 s deregistration delay) and for the test-traffic check (its function stops after 2 minutes).
ECS_START_AND_CHECK_MINUTES = 10
ECS_MAX_BAKE_MINUTES = 1440  # BakeTimeInMinutes 0-1440 (CloudFormation schema)
ECS_MIN_LINEAR_PERCENTAGE = 3  # LinearConfiguration.StepPercent 3-100
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,2})?)$")


@dataclass(frozen=True, kw_only=True)
class TrafficShifting:
    """How CodeDeploy moves production traffic from blue to green.

    Attributes:
        mode: ``all_at_once``, ``canary`` (``percentage`` first, the rest after
            ``interval_minutes``) or ``linear`` (``percentage`` every
            ``interval_minutes``). Default ``canary``.
        percentage: 1-99; default 10 for canary and linear; not for all_at_once.
        interval_minutes: 1-2880; default 5 for canary, 3 for linear; not for all_at_once.

    Canary 10%/5 min and 15 min, and linear 10% every 1 and 3 min, use
    CodeDeploy's predefined configurations; other numbers make a custom one.
    """

    mode: str = "canary"
    percentage: int | None = None
    interval_minutes: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in TRAFFIC_SHIFTING_MODES:
            raise fail("traffic_shifting", self.mode, f"expected one of {', '.join(TRAFFIC_SHIFTING_MODES)}")
        if self.mode == "all_at_once":
            for setting, value in (
                ("traffic_percentage", self.percentage),
                ("traffic_interval_minutes", self.interval_minutes),
            ):
                if value is not None:
                    raise fail(setting, value, "all_at_once shifts everything at once; leave it unset")
            return
        require_int("traffic_percentage", self.step_percentage, 1, 99)
        require_int("traffic_interval_minutes", self.step_minutes, 1, MAX_MINUTES)

    @property
    def shift_minutes(self) -> int:
        """Minutes traffic shifting can take, counted generously.

        Linear counts an interval after every step, including the one that
        reaches 100%: CodeDeploy documents traffic "shifted at the start of
        each increment" without saying that it skips the wait after the last.
        """
        if self.mode == "all_at_once":
            return 0
        if self.mode == "canary":
            return self.step_minutes
        return math.ceil(100 / self.step_percentage) * self.step_minutes

    @property
    def ecs_shift_minutes(self) -> int:
        """Minutes ECS's traffic shifting takes: it does not wait after the step that reaches 100%.

        Steps waited after, as the CloudFormation schema counts them: ``100 / percentage - 1``
        when the percentage divides 100, else ``floor(100 / percentage)``.
        """
        return self.minimum_shift_minutes

    @property
    def minimum_shift_minutes(self) -> int:
        """The least time shifting takes on either engine: an interval between steps, none after the last."""
        if self.mode == "all_at_once":
            return 0
        if self.mode == "canary":
            return self.step_minutes
        steps = 100 // self.step_percentage - (1 if 100 % self.step_percentage == 0 else 0)
        return steps * self.step_minutes

    @property
    def step_percentage(self) -> int:
        return DEFAULT_STEPS[self.mode][0] if self.percentage is None else self.percentage

    @property
    def step_minutes(self) -> int:
        return DEFAULT_STEPS[self.mode][1] if self.interval_minutes is None else self.interval_minutes


@dataclass(frozen=True, kw_only=True)
class AlarmThresholds:
    """CloudWatch alarms on the production and test target groups that stop and roll back a deployment.

    Each target group gets three alarms, breaching for ``evaluation_minutes``
    consecutive one-minute periods.

    Attributes:
        target_5xx_per_minute: 5xx responses from the targets per minute. Default ``5``.
        unhealthy_hosts: unhealthy targets (maximum over the minute). Default ``1``.
        latency_ms: target response time at ``latency_percentile``, in ms. Default ``1500``.
        latency_percentile: ``p50`` to ``p99.99``. Default ``p99``.
        evaluation_minutes: consecutive breaching minutes before the alarm fires. Default ``2``.
    """

    target_5xx_per_minute: int = 5
    unhealthy_hosts: int = 1
    latency_ms: int = 1500
    latency_percentile: str = "p99"
    evaluation_minutes: int = 2

    def __post_init__(self) -> None:
        require_int("alarm_5xx_per_minute", self.target_5xx_per_minute, 1, 1_000_000)
        require_int("alarm_unhealthy_hosts", self.unhealthy_hosts, 1, 1000)
        require_int("alarm_latency_ms", self.latency_ms, 1, 600_000)
        require_str(
            "alarm_latency_percentile", self.latency_percentile, _PERCENTILE, "expected p50 to p99.99"
        )
        if not 50 <= float(self.latency_percentile[1:]) < 100:
            raise fail("alarm_latency_percentile", self.latency_percentile, "expected p50 to p99.99")
        require_int("alarm_evaluation_minutes", self.evaluation_minutes, 1, 60)


@dataclass(frozen=True, kw_only=True)
class RolloutSettings:
    """How every region's blue/green deployment proceeds.

    Attributes:
        engine: ``codedeploy`` (default: CodeDeploy blue/green, a
            CodeDeployToECS pipeline action) or ``ecs`` (Amazon ECS's built-in
            blue/green, CodePipeline's ECS action; no CodeDeploy resources).
        traffic_shifting: how production traffic moves. Default canary 10%, then the rest after 5 minutes.
        termination_wait_minutes: how long the old (blue) task set is kept
            after the shift, for an instant rollback (with ``ecs``: the bake
            time, during which the alarms still roll back); 0-2880. Default ``5``.
        alarms: thresholds of the alarms that roll a deployment back.
        test_traffic_check_path: when set, a Lambda function requests this
            path on the test listener (which serves the green task set) after
            test traffic is allowed, and fails the deployment unless it answers
            2xx/3xx; production traffic shifts only after it passes. Default: no check.
    """

    engine: str = "codedeploy"
    traffic_shifting: TrafficShifting = field(default_factory=TrafficShifting)
    termination_wait_minutes: int = 5
    alarms: AlarmThresholds = field(default_factory=AlarmThresholds)
    test_traffic_check_path: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in DEPLOYMENT_ENGINES:
            raise fail("deployment_engine", self.engine, f"expected one of {', '.join(DEPLOYMENT_ENGINES)}")
        require_int("termination_wait_minutes", self.termination_wait_minutes, 0, MAX_MINUTES)
        if self.test_traffic_check_path is not None:
            require_url_path("test_traffic_check_path", self.test_traffic_check_path)
        if self.engine == "ecs":
            self.check_ecs_deployment_time()
            return
        shifting = self.traffic_shifting
        longest = shifting.shift_minutes + self.termination_wait_minutes + START_AND_HOOKS_MINUTES
        if longest > ACTION_LIMIT_MINUTES:
            setting, value = (
                ("traffic_interval_minutes", shifting.step_minutes)
                if shifting.shift_minutes >= self.termination_wait_minutes
                else ("termination_wait_minutes", self.termination_wait_minutes)
            )
            raise fail(
                setting,
                value,
                f"a deployment would take up to {longest} minutes ({shifting.shift_minutes} shifting traffic, "
                f"{self.termination_wait_minutes} keeping blue, {START_AND_HOOKS_MINUTES} starting tasks and "
                f"hooks), more than the {ACTION_LIMIT_MINUTES} minutes (5 days) CodePipeline waits for a "
                "CodeDeploy ECS action",
            )

    def ecs_bake_room(self, *, migration_minutes: int = 0) -> int:
        """The longest bake an ECS deployment can take inside CodePipeline's ECS action: its hour less
        ECS_START_AND_CHECK_MINUTES, the traffic shifts and ``migration_minutes`` (may be negative)."""
        return (
            ECS_ACTION_LIMIT_MINUTES
            - ECS_START_AND_CHECK_MINUTES
            - self.traffic_shifting.ecs_shift_minutes
            - migration_minutes
        )

    def check_ecs_deployment_time(self, *, migration_minutes: int = 0) -> None:
        """Refuse ECS settings a deployment could not finish with inside the pipeline action's hour.

        Counted: ECS_START_AND_CHECK_MINUTES, ``migration_minutes`` (the migration
        hook's limit, when there is one), the traffic shifts and the bake time.
        """
        shifting = self.traffic_shifting
        if shifting.mode == "linear" and shifting.step_percentage < ECS_MIN_LINEAR_PERCENTAGE:
            raise fail(
                "traffic_percentage",
                shifting.step_percentage,
                f"with deployment_engine ecs, linear steps are {ECS_MIN_LINEAR_PERCENTAGE}-99 percent",
            )
        parts = {
            "traffic_interval_minutes": shifting.ecs_shift_minutes,
            "termination_wait_minutes": self.termination_wait_minutes,
            "migration_timeout_minutes": migration_minutes,
        }
        longest = sum(parts.values()) + ECS_START_AND_CHECK_MINUTES
        if self.termination_wait_minutes > self.ecs_bake_room(migration_minutes=migration_minutes):
            setting = max(parts, key=parts.get)
            value = {"traffic_interval_minutes": shifting.step_minutes}.get(setting, parts[setting])
            raise fail(
                setting,
                value,
                f"with deployment_engine ecs a deployment could take {longest} minutes ({parts['traffic_interval_minutes']} "
                f"shifting traffic, {self.termination_wait_minutes} baking, {migration_minutes} migrating, "
                f"{ECS_START_AND_CHECK_MINUTES} starting and checking tasks), more than the "
                f"{ECS_ACTION_LIMIT_MINUTES} minutes CodePipeline's ECS action waits",
            )
