"""Deployment windows: the hours a production wave may start, its stage's entry condition (CodePipeline's
DeploymentWindow rule), checked as the rule documents its cron expression and time zone, and read by make plan,
make status and make release to say when a window opens.

The hand-worked dates: 7 December 2026 is a Monday, so December 2026 has Fridays on the 4th, 11th, 18th and
25th, its 19th is a Saturday, its 20th a Sunday and its 31st a Thursday; 1 August 2026 is a Saturday.
Singapore is UTC+8 all year; London moves to UTC+1 at 01:00 UTC on 28 March 2027 (the last Sunday of March).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import botocore.session
import botocore.validate
import pytest
from aws_world import World
from conftest import SINGAPORE_WORKING_HOURS
from template_queries import pipeline_stages
from test_config import config_error, from_context

from constructs.settings.deployment_windows import DeploymentWindow
from tools.cloud_assembly import CloudAssembly
from tools.operate.release_progress import LineView, Progress, render
from tools.operate.window_waits import WINDOW_PERMISSIONS, window_lines, window_notes, window_rows
from tools.plan.release_plan import plan_of, render_mermaid, render_table

WORKING_HOURS = DeploymentWindow(**SINGAPORE_WORKING_HOURS)
WAVES = "eu-west-2;ap-southeast-1"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def api_shape_of(declaration: object) -> object:
    """A CloudFormation declaration as CodePipeline's API spells it: camelCase keys, configuration maps as is."""
    if isinstance(declaration, list):
        return [api_shape_of(item) for item in declaration]
    if isinstance(declaration, dict):
        return {
            key[0].lower() + key[1:]: value if key == "Configuration" else api_shape_of(value)
            for key, value in declaration.items()
        }
    return declaration


def windowed(**windows: dict) -> dict[str, object]:
    return {"waves": WAVES, "deployment_windows": json.dumps(windows)}


# --- the rule's configuration, as the pipeline declares it ---------------------------------------------------


def test_only_the_windowed_waves_stage_has_an_entry_condition_and_it_holds_the_rule(synth_cache):
    staged = synth_cache("staged")
    entries = {s["Name"]: s.get("BeforeEntry") for s in pipeline_stages(staged.pipeline)}
    windowed_stage = entries.pop("Deploy_to_Production_wave_2")
    assert set(entries.values()) == {None}
    assert windowed_stage == {
        "Conditions": [
            {
                "Result": "FAIL",
                "Rules": [
                    {
                        "Name": "Window-Deploy_to_Production_wave_2",
                        "RuleTypeId": {
                            "Category": "Rule",
                            "Owner": "AWS",
                            "Provider": "DeploymentWindow",
                            "Version": "1",
                        },
                        "Configuration": {"Cron": "* * 9-16 ? * MON-FRI *", "TimeZone": "Asia/Singapore"},
                    }
                ],
            }
        ]
    }
    # As CodePipeline's API takes it (botocore's model: one condition, 1-5 rules, key and value lengths).
    shape = (
        botocore.session.get_session().get_service_model("codepipeline").shape_for("BeforeEntryConditions")
    )
    report = botocore.validate.ParamValidator().validate(api_shape_of(windowed_stage), shape)
    assert not report.has_errors(), report.generate_report()


def test_make_plan_names_the_window_in_the_stage_list_the_time_budget_and_the_diagram(synth_cache):
    plan = plan_of(CloudAssembly.read(synth_cache("staged").outdir))
    assert (
        '  Deploy_to_Production_wave_1 -->|"only inside * * 9-16 ? * MON-FRI * (Asia/Singapore)"| '
        "Deploy_to_Production_wave_2"
    ) in render_mermaid(plan).splitlines()
    assert "-->|" not in render_mermaid(plan_of(CloudAssembly.read(synth_cache("default").outdir)))
    table = render_table(plan)
    assert (
        "Deploy_to_Production_wave_2: Deploy-ap-southeast-1 [CodeDeployToECS]; enters only inside its "
        "deployment window, * * 9-16 ? * MON-FRI * (Asia/Singapore)"
    ) in table
    assert (
        "  Deploy_to_Production_wave_2's entry: not counted (a release reaching it outside its window, "
        "* * 9-16 ? * MON-FRI * (Asia/Singapore) [setting: deployment_windows], waits there until it opens)"
    ) in table


# --- when a window is open -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "is_open", "opens"),
    [
        ("2026-12-08T00:59", False, "2026-12-08T01:00"),  # Tuesday 08:59 in Singapore
        ("2026-12-08T01:00", True, "2026-12-08T01:00"),
        ("2026-12-08T08:59:59", True, "2026-12-08T08:59"),  # 16:59:59: the last minute
        ("2026-12-08T09:00", False, "2026-12-09T01:00"),  # 17:00: closed until Wednesday 09:00
        ("2026-12-11T09:05", False, "2026-12-14T01:00"),  # Friday 17:05: closed over the weekend
    ],
)
def test_a_window_is_the_minutes_its_cron_matches_in_its_zone(moment, is_open, opens):
    assert WORKING_HOURS.is_open(at(moment)) is is_open
    assert WORKING_HOURS.opens_at(at(moment)) == at(opens)


def test_opening_says_when_in_the_zone_in_utc_and_how_long_from_now():
    assert WORKING_HOURS.opening(at("2026-12-08T02:00")) == "open now"
    assert WORKING_HOURS.opening(at("2026-12-11T09:05")) == (
        "opens Mon 2026-12-14 09:00 Asia/Singapore (01:00 UTC), in 2d 15h55m"
    )


def test_a_window_follows_its_zones_clock_change():
    london = DeploymentWindow(cron="* * 9-16 ? * MON-FRI *", timezone="Europe/London")
    # Friday 26 March 2027 17:00 GMT; Monday the 29th 09:00 is BST, 08:00 UTC.
    assert london.opens_at(at("2027-03-26T17:00")) == at("2027-03-29T08:00")
    # A window inside the hour the clock skips never opens that day.
    skipped = DeploymentWindow(cron="* 0-59 1 ? MAR 1L 2027", timezone="Europe/London")
    assert skipped.opens_at(at("2027-03-01T00:00")) is None


@pytest.mark.parametrize(
    ("day_of_month", "day_of_week", "days"),
    [
        ("L", "?", [31]),
        ("LW", "?", [31]),
        ("L-3", "?", [28]),
        ("19W", "?", [18]),  # Saturday: the Friday before
        ("20W", "?", [21]),  # Sunday: the Monday after
        ("?", "6L", [25]),  # the last Friday
        ("?", "FRI#3", [18]),  # the third Friday
        ("?", "L", [5, 12, 19, 26]),  # L alone: Saturday
        ("?", "MON,SAT", [5, 7, 12, 14, 19, 21, 26, 28]),
        ("1-10/3", "?", [1, 4, 7, 10]),
    ],
)
def test_the_rules_special_day_characters_pick_the_documented_days(day_of_month, day_of_week, days):
    window = DeploymentWindow(cron=f"* * 12 {day_of_month} DEC {day_of_week} 2026", timezone="UTC")
    open_days = [d for d in range(1, 32) if window.is_open(datetime(2026, 12, d, 12, tzinfo=UTC))]
    assert open_days == days


def test_the_nearest_weekday_does_not_leave_the_month():
    window = DeploymentWindow(
        cron="* * 12 1W AUG ? 2026", timezone="UTC"
    )  # 1 August 2026 is a Saturday: Monday the 3rd
    assert [d for d in range(1, 8) if window.is_open(datetime(2026, 8, d, 12, tzinfo=UTC))] == [3]
    assert date(2026, 8, 1).weekday() == 5


# --- what is refused, in one line ------------------------------------------------------------------------------

ZONES = "expected a time zone as Region/City or Region/City_City, an IANA name such as Asia/Singapore"


CRON_REFUSALS = {
    "0 * 9-16 ? * MON-FRI *": "the seconds field takes only * (the rule's table), not 0",
    "* * 9-16 ? * MON-FRI * *": "expected 6 fields and an optional year",
    "* * 9-16 * * MON-FRI *": "exactly one of day-of-month and day-of-week must be ?",
    "* * 9-16 ? * ? *": "exactly one of day-of-month and day-of-week must be ?",
    "* * 24 ? * MON *": "the hours field takes 0-23, not 24",
    "* * 22-2 ? * MON *": "the hours field's range 22-2 runs high to low; write it as two ranges",
    "* * 9 ? 3 MON *": "write months as names (JAN-DEC): the rule's page numbers them 1-12, an",
    "* * 9 ? * 1-5 *": "the rule numbers them from Sunday, 1, so 1-5 is Sunday to Thursday, not 1",
    "* 0 9-16 ? * MON-FRI *": "the minutes field 0 opens the window one minute each hour",
    "* * 9 ? * MON 1969": "the year field takes 1970-2199, not 1969",
    "* * 9 ? * MON#6 *": "the day-of-week field's #n takes n from 1 to 5, not 6",
    "* * 9 30 FEB ? *": "it matches no day of any year: the window never opens",
}
ZONE_REFUSALS = dict.fromkeys(
    ("SGT", "GMT+8", "UTC+8", "Asia/Atlantis", "America/Argentina/Buenos_Aires", "America/Port_of_Spain"),
    ZONES,
) | {"UTC+14:30": "a UTC offset is at most 14 hours"}


@pytest.mark.parametrize(
    ("window", "message"),
    [({"cron": cron, "timezone": "UTC"}, message) for cron, message in CRON_REFUSALS.items()]
    + [({"cron": "* * 9 ? * MON *", "timezone": zone}, message) for zone, message in ZONE_REFUSALS.items()],
)
def test_a_window_the_rule_or_this_reading_of_it_would_not_take_is_refused_naming_region_and_field(
    window, message
):
    error = config_error(**windowed(**{"ap-southeast-1": window}))
    assert error.startswith("deployment_windows.ap-southeast-1.")
    assert message in error


def test_offsets_and_iana_names_are_taken():
    for zone in (
        "UTC",
        "UTC+08:00",
        "UTC-03:30",
        "Asia/Singapore",
        "America/New_York",
        "America/Los_Angeles",
    ):
        config = from_context(**windowed(**{"ap-southeast-1": {"cron": "* * 9 ? * MON *", "timezone": zone}}))
        assert config.window_for("ap-southeast-1").timezone == zone
    # No zone is no default: hours mean nothing without one.
    assert config_error(**windowed(**{"ap-southeast-1": {"cron": "* * 9 ? * MON *"}})) == (
        "deployment_windows.ap-southeast-1: {'cron': '* * 9 ? * MON *'} is not allowed; timezone is missing; a "
        "window has cron and timezone (UTC for UTC)"
    )
    # White space between fields is one space, as the rule separates them.
    spaced = from_context(**windowed(**{"ap-southeast-1": {"cron": " * * 9  ? * MON * ", "timezone": "UTC"}}))
    assert spaced.window_for("ap-southeast-1").cron == "* * 9 ? * MON *"


def test_the_regions_of_one_wave_share_one_window_or_none():
    error = config_error(deployment_windows=json.dumps({"ap-southeast-1": SINGAPORE_WORKING_HOURS}))
    assert error == (
        'deployment_windows: {"eu-west-2": null, "ap-southeast-1": {"Cron": "* * 9-16 ? * MON-FRI *", "TimeZone": '
        '"Asia/Singapore"}} is not allowed; these regions start together, in one stage (one wave unless waves '
        'splits them, such as [["eu-west-2"], ["ap-southeast-1"]]): give them the same window (cron and timezone '
        "written alike), or none, or put them in different waves"
    )
    in_waves = config_error(
        waves="eu-west-2,ap-southeast-1;us-east-1",
        extra_regions="ap-southeast-1,us-east-1",
        deployment_windows=json.dumps({"ap-southeast-1": SINGAPORE_WORKING_HOURS}),
    )
    assert "in one stage (wave 1 of waves)" in in_waves
    both = {"eu-west-2": SINGAPORE_WORKING_HOURS, "ap-southeast-1": SINGAPORE_WORKING_HOURS}
    assert from_context(deployment_windows=json.dumps(both)).window_for("eu-west-2") == WORKING_HOURS


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        (
            {"eu-west-1": SINGAPORE_WORKING_HOURS},
            "deployment_windows: 'eu-west-1' is not allowed; it is not a",
        ),
        (
            {"ap-southeast-1": "* * 9 ? * MON *"},
            "deployment_windows.ap-southeast-1: '* * 9 ? * MON *' is not",
        ),
        (
            {"ap-southeast-1": {**SINGAPORE_WORKING_HOURS, "tz": "UTC"}},
            "is not allowed; tz is not a key of a window; a window has cron and timezone",
        ),
        (
            {"ap-southeast-1": {"Cron": "* * 9 ? * MON *", "TimeZone": "UTC"}},
            "is not allowed; cron is missing; a window has cron and timezone",
        ),
    ],
)
def test_a_window_for_no_production_region_or_of_another_shape_is_refused_naming_what_is_wrong(
    windows, message
):
    assert message in config_error(**{"waves": WAVES, "deployment_windows": json.dumps(windows)})


def test_a_window_given_with_c_must_be_json():
    assert config_error(waves=WAVES, deployment_windows="{'ap-southeast-1': {}}") == (
        "deployment_windows: \"{'ap-southeast-1': {}}\" is not allowed; it is not JSON (Expecting property name "
        'enclosed in double quotes); expected such as {"ap-southeast-1": {"cron": "* * 9-16 ? * MON-FRI *", '
        '"timezone": "Asia/Singapore"}}'
    )


def test_a_window_gates_production_only():
    error = config_error(staging_regions="eu-west-1", **windowed(**{"eu-west-1": SINGAPORE_WORKING_HOURS}))
    assert error == (
        "deployment_windows: 'eu-west-1' is not allowed; a window gates a production wave; eu-west-1 is a "
        "staging region"
    )


# --- a release waiting for its window --------------------------------------------------------------------------

PIPELINE, EXECUTION = "webapp-pipeline-Release", "exec-9"


def rule_execution(status: str, **output) -> dict:
    return {
        "pipelineExecutionId": EXECUTION,
        "ruleExecutionId": f"rule-{status}",
        "stageName": "Deploy_to_Production_wave_2",
        "ruleName": "Window-Deploy_to_Production_wave_2",
        "startTime": at("2026-12-08T00:10"),
        "lastUpdateTime": at("2026-12-08T00:10"),
        "status": status,
        "input": {
            "ruleTypeId": {
                "category": "Rule",
                "owner": "AWS",
                "provider": "DeploymentWindow",
                "version": "1",
            },
            "configuration": {"Cron": "* * 9-16 ? * MON-FRI *", "TimeZone": "Asia/Singapore"},
        },
        **({"output": {"executionResult": output}} if output else {}),
    }


def listed(world: World, *details: dict) -> None:
    world.expect(
        "codepipeline",
        "eu-west-2",
        "list_rule_executions",
        {"ruleExecutionDetails": list(details)},
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": EXECUTION}},
    )


def test_a_release_held_at_a_stages_entry_shows_a_row_with_the_time_its_window_opens():
    world = World(WINDOW_PERMISSIONS)
    listed(world, rule_execution("InProgress"))
    now = at("2026-12-08T00:30")  # Tuesday 08:30 in Singapore
    rows = window_rows(world.aws(), "eu-west-2", PIPELINE, EXECUTION, now)
    world.assert_done()
    row = rows["Deploy_to_Production_wave_2"]
    assert (row.status, row.until) == ("InProgress", at("2026-12-08T01:00"))
    assert row.step == "waiting for its deployment window, * * 9-16 ? * MON-FRI * (Asia/Singapore)"
    # Plain lines say when once; the live table counts down.
    said: list[str] = []
    LineView(said.append).update(Progress(EXECUTION, waits=rows, now=now), 0)
    assert said[-1] == (
        "[0m00s] Deploy_to_Production_wave_2 entry | InProgress | waiting for its deployment window, "
        "* * 9-16 ? * MON-FRI * (Asia/Singapore) | until 2026-12-08 01:00 UTC"
    )
    table = render(Progress(EXECUTION, waits=rows, now=now), 0).renderables[-1]
    assert list(table.columns[2].cells) == [
        "waiting for its deployment window, * * 9-16 ? * MON-FRI * (Asia/Singapore): 30m00s left"
    ]


def test_an_entered_refused_or_abandoned_window_says_so():
    world = World(WINDOW_PERMISSIONS)
    refused = rule_execution("Failed", externalExecutionSummary="Rule timed out")
    refused["stageName"] = "Deploy_to_Production_wave_3"
    # An override (or a newer release, or a stop) ends the rule's wait: RuleExecutionStatus has no Overridden.
    abandoned = rule_execution("Abandoned")
    abandoned["stageName"] = "Deploy_to_Production_wave_4"
    listed(world, rule_execution("Succeeded"), refused, abandoned)
    rows = window_rows(world.aws(), "eu-west-2", PIPELINE, EXECUTION, at("2026-12-08T02:00"))
    world.assert_done()
    assert rows["Deploy_to_Production_wave_4"].step.startswith("stopped waiting for its deployment window")
    assert rows["Deploy_to_Production_wave_4"].detail == ""
    entered, failed = rows["Deploy_to_Production_wave_2"], rows["Deploy_to_Production_wave_3"]
    assert (entered.step, entered.until) == (
        "entered inside its deployment window, * * 9-16 ? * MON-FRI * (Asia/Singapore)",
        None,
    )
    assert failed.detail == (
        "its deployment window, * * 9-16 ? * MON-FRI * (Asia/Singapore) did not let the release in: Rule timed out"
    )


def test_status_shows_each_window_when_it_opens_and_a_release_waiting_for_it(synth_cache):
    stages = plan_of(CloudAssembly.read(synth_cache("staged").outdir)).stages
    waiting = {
        "stageName": "Deploy_to_Production_wave_2",
        "beforeEntryConditionState": {"latestExecution": {"status": "InProgress"}},
    }
    assert window_lines(stages, [waiting], at("2026-12-11T09:05")) == [
        "window: Deploy_to_Production_wave_2 starts only inside * * 9-16 ? * MON-FRI * (Asia/Singapore): opens Mon "
        "2026-12-14 09:00 Asia/Singapore (01:00 UTC), in 2d 15h55m",
        "    ! a release is waiting at its entry for the window (until 2026-12-14 01:00 UTC)",
    ]
    assert window_lines(stages, [], at("2026-12-14T02:00")) == [
        "window: Deploy_to_Production_wave_2 starts only inside * * 9-16 ? * MON-FRI * (Asia/Singapore): open now"
    ]


def test_make_release_says_at_its_start_when_each_window_opens(synth_cache):
    stages = plan_of(CloudAssembly.read(synth_cache("staged").outdir)).stages
    assert window_notes(stages, at("2026-12-08T00:30")) == [
        "Deploy_to_Production_wave_2 starts only inside * * 9-16 ? * MON-FRI * (Asia/Singapore): opens Tue "
        "2026-12-08 09:00 Asia/Singapore (01:00 UTC), in 0h30m"
    ]
    assert (
        window_notes(
            plan_of(CloudAssembly.read(synth_cache("default").outdir)).stages, at("2026-12-08T00:30")
        )
        == []
    )
