"""Configuration: defaults, parsing of cdk.json / -c values, and one test per kind of bad value."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from constructs.settings.release_config import (
    CONTEXT_KEYS,
    PLACEHOLDER_ACCOUNT,
    ConfigError,
    GitHubSource,
    ReleaseConfig,
    S3Source,
)
from constructs.settings.rollout_settings import TrafficShifting
from constructs.settings.service_settings import ServiceSettings
from constructs.settings.supported_regions import supported_regions

CONNECTION = (
    "arn:aws:codestar-connections:eu-west-2:123456789012:connection/0b8e8b2c-1d3a-4f5e-9a7b-123456789abc"
)


def from_context(default_account: str | None = None, **context: object) -> ReleaseConfig:
    """The configuration of ``context``, trying the app out over plain HTTP unless it says otherwise."""
    return ReleaseConfig.from_context({"allow_plain_http": True, **context}, default_account=default_account)


def config_error(**context: object) -> str:
    with pytest.raises(ConfigError) as raised:
        from_context(**context)
    message = str(raised.value)
    assert "\n" not in message
    return message


# --- defaults and parsing ---------------------------------------------------


def test_the_defaults_are_the_original_use_case():
    config = from_context()
    assert config.regions == ("eu-west-2", "ap-southeast-1")
    assert config.app_name == "webapp"
    assert config.account == PLACEHOLDER_ACCOUNT
    assert isinstance(config.source, S3Source)
    assert config.source.object_key == "source.zip"


def test_defaults_without_any_context():
    config = from_context()
    assert config.home_region == "eu-west-2"
    assert config.extra_regions == ("ap-southeast-1",)
    assert config.service == ServiceSettings()
    assert (config.service.container_port, config.service.cpu, config.service.memory_mib) == (80, 256, 512)
    assert (config.service.desired_count, config.service.health_check_path) == (2, "/")


def test_account_comes_from_context_then_environment_then_placeholder():
    assert from_context(account="210987654321", default_account="123456789012").account == "210987654321"
    assert from_context(default_account="123456789012").account == "123456789012"
    assert from_context().account == PLACEHOLDER_ACCOUNT


def test_extra_regions_from_a_comma_separated_flag():
    config = from_context(extra_regions=" us-east-1, eu-central-1 ,ap-south-1")
    assert config.regions == ("eu-west-2", "us-east-1", "eu-central-1", "ap-south-1")


def test_extra_regions_from_a_json_list_string_and_from_json():
    assert from_context(extra_regions='["us-east-1"]').extra_regions == ("us-east-1",)
    assert from_context(extra_regions=["us-east-1", "sa-east-1"]).extra_regions == ("us-east-1", "sa-east-1")


def test_extra_regions_may_be_empty():
    assert from_context(extra_regions="").regions == ("eu-west-2",)
    assert from_context(extra_regions=[]).regions == ("eu-west-2",)


def test_numbers_from_flags_are_parsed():
    service = from_context(
        container_port="8080", cpu="512", memory_mib="2048", desired_count="3", bootstrap_image="shop:boot"
    ).service
    assert (service.container_port, service.cpu, service.memory_mib, service.desired_count) == (
        8080,
        512,
        2048,
        3,
    )


def test_github_source_when_all_three_settings_are_given():
    source = from_context(
        source_connection_arn=CONNECTION, source_repository="acme/shop", source_branch="main"
    ).source
    assert isinstance(source, GitHubSource)
    assert (source.owner, source.name, source.branch) == ("acme", "shop", "main")


def test_config_is_immutable():
    config = from_context()
    with pytest.raises(AttributeError):
        config.home_region = "us-east-1"  # type: ignore[misc]


def test_supported_regions_come_from_botocore():
    regions = supported_regions()
    assert len(regions) == 30  # botocore 1.44.5: commercial regions with CodePipeline, CodeDeploy and ECS
    assert {"eu-west-2", "ap-southeast-1", "us-east-1", "af-south-1"} <= set(regions)
    assert not {r for r in regions if r.startswith(("cn-", "us-gov-", "us-iso"))}


# --- one test per kind of bad configuration ---------------------------------


def test_unknown_region_is_rejected_with_the_allowed_list():
    message = config_error(home_region="xx-middle-9")
    assert message.startswith("home_region: 'xx-middle-9' is not allowed; ")
    assert "CodePipeline, CodeDeploy and ECS all run only in: af-south-1, " in message
    assert "eu-west-2" in message


def test_region_outside_the_commercial_partition_is_rejected():
    message = config_error(extra_regions="cn-north-1")
    assert message.startswith("extra_regions: 'cn-north-1' is not allowed; ")
    assert "only in:" in message


def test_malformed_region_code_is_rejected():
    message = config_error(extra_regions="EU_WEST_1")
    assert message == "extra_regions: 'EU_WEST_1' is not allowed; expected a region code such as eu-west-2"


def test_region_listed_twice_is_rejected():
    message = config_error(extra_regions="us-east-1,ap-southeast-1,us-east-1")
    assert message == "extra_regions: 'us-east-1' is not allowed; it is listed twice; list each region once"


def test_home_region_repeated_in_extra_regions_is_rejected():
    message = config_error(home_region="us-east-1", extra_regions="us-east-1")
    assert message == (
        "extra_regions: 'us-east-1' is not allowed; it is the home_region; list only the other regions"
    )


@pytest.mark.parametrize("account", ["12345", "12345678901a", "1234567890123"])
def test_malformed_account_is_rejected(account):
    assert config_error(account=account) == f"account: '{account}' is not allowed; expected 12 digits"


def test_account_of_the_wrong_type_is_rejected():
    message = config_error(account=123456789012)
    assert message == "account: 123456789012 is not allowed; expected text, not int: expected 12 digits"


@pytest.mark.parametrize(
    "name",
    [
        "Web",
        "web_app",
        "-web",
        "web-",
        "w",
        "a" * 33,
        "web--app",
        "sthree-shop",
        "amzn-s3-demo-shop",
        "xn--shop",
    ],
)
def test_bad_app_name_is_rejected(name):
    message = config_error(app_name=name)
    assert message == (
        f"app_name: '{name}' is not allowed; expected 2-32 lowercase letters, digits and single hyphens, "
        "starting with a letter (not sthree- or amzn-s3-demo-, which S3 reserves)"
    )


def test_an_app_name_ending_in_staging_is_refused():
    """shop-staging's stack shop-staging-eu-west-2 would be shop's staging copy in eu-west-2."""
    assert config_error(app_name="shop-staging") == (
        "app_name: 'shop-staging' is not allowed; it ends in -staging: its stacks <app_name>-<region> would be "
        "another deployment's staging stacks; choose a name that does not end in -staging"
    )


def test_no_two_app_names_share_a_stack_name():
    """Every stack name of one app (production, staging, pipeline) differs from every other app's."""
    regions = ("eu-west-2", "ap-southeast-1", "us-east-1")

    def stack_names(app: str) -> set[str]:
        config = from_context(
            app_name=app, extra_regions="ap-southeast-1,us-east-1", staging_regions=",".join(regions)
        )
        return (
            {f"{app}-{r}" for r in config.regions}
            | {f"{app}-staging-{r}" for r in regions}
            | {f"{app}-pipeline"}
        )

    apps = ("shop", "shop-eu", "shop-eu-west-2", "shop-pipeline", "shop-stagingx", "staging", "shop-us")
    for first, second in itertools.combinations(apps, 2):
        assert not stack_names(first) & stack_names(second), (first, second)


@pytest.mark.parametrize("name", ["ab", "web-app", "shop-eu-2", "a" * 32, "staging-shop"])
def test_good_app_names_are_accepted(name):
    assert from_context(app_name=name).app_name == name


def test_more_regions_than_one_stage_holds_is_rejected():
    regions = ",".join(f"xx-test-{n}" for n in range(50))
    message = config_error(extra_regions=regions)
    assert message == (
        "extra_regions: 50 regions plus home_region make 51 deploy actions; "
        "one CodePipeline stage holds at most 50"
    )


def test_extra_regions_of_the_wrong_type_is_rejected():
    message = config_error(extra_regions=5)
    assert message.startswith("extra_regions: 5 is not allowed; expected a JSON list of region codes")


def test_region_of_the_wrong_type_inside_the_list_is_rejected():
    message = config_error(extra_regions=["us-east-1", 7])
    assert message.startswith("extra_regions: 7 is not allowed; expected text, not int")


def test_number_setting_that_is_not_a_number_is_rejected():
    assert config_error(container_port="eighty") == (
        "container_port: 'eighty' is not allowed; expected a whole number"
    )


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("container_port", 0, "expected a whole number from 1 to 65535"),
        ("container_port", 70000, "expected a whole number from 1 to 65535"),
        ("desired_count", True, "expected a whole number from 1 to 1000"),
        ("desired_count", 0, "expected a whole number from 1 to 1000"),
        ("test_listener_port", 80, "ports 80 and 443 belong to the production listener"),
        ("test_listener_port", 443, "ports 80 and 443 belong to the production listener"),
        ("cpu", 300, "Fargate CPU units are one of [256, 512, 1024, 2048, 4096, 8192, 16384]"),
    ],
)
def test_out_of_range_service_setting_is_rejected(key, value, allowed):
    shown = "true" if value is True else repr(value)  # as cdk.json writes it: true, not True
    assert config_error(**{key: value}) == f"{key}: {shown} is not allowed; {allowed}"


def test_a_refusal_writes_true_false_and_null_as_cdk_json_does():
    from constructs.settings.config_checks import fail

    assert [str(fail("s", value, "why")) for value in (True, False, None, "x", 3)] == [
        "s: true is not allowed; why",
        "s: false is not allowed; why",
        "s: null is not allowed; why",
        "s: 'x' is not allowed; why",
        "s: 3 is not allowed; why",
    ]


def test_memory_that_fargate_does_not_offer_for_the_cpu_is_rejected():
    message = config_error(cpu=256, memory_mib=4096)
    assert message == (
        "memory_mib: 4096 is not allowed; with cpu 256 Fargate allows 512 to 2048 MiB in steps of 512"
    )


def test_health_check_path_must_be_a_path():
    message = config_error(health_check_path="health")
    assert message.startswith(
        "health_check_path: 'health' is not allowed; expected a URL path starting with '/'"
    )


def test_partial_github_source_is_rejected():
    message = config_error(source_repository="acme/shop")
    assert message == (
        "source_connection_arn: missing; a GitHub source needs source_connection_arn, "
        "source_repository, source_branch together (leave all three unset for the S3 source)"
    )


def test_malformed_github_settings_are_rejected():
    good = {"source_connection_arn": CONNECTION, "source_repository": "acme/shop", "source_branch": "main"}
    message = config_error(**{**good, "source_connection_arn": "arn:aws:s3:::bucket"})
    assert message.startswith(
        "source_connection_arn: 'arn:aws:s3:::bucket' is not allowed; expected arn:aws:"
    )
    message = config_error(**{**good, "source_repository": "shop"})
    assert message == "source_repository: 'shop' is not allowed; expected owner/name"


def test_every_message_names_its_setting_first():
    bad_values = [
        {"home_region": "nowhere"},
        {"extra_regions": "us-east-1,us-east-1"},
        {"account": "x"},
        {"app_name": "X"},
        {"cpu": "lots"},
    ]
    for context in bad_values:
        setting = next(iter(context))
        assert re.match(rf"^{setting}: ", config_error(**context))


# --- rollout options ----------------------------------------------------------


def test_rollout_options_from_flags():
    config = from_context(
        extra_regions="ap-southeast-1,us-east-1",
        traffic_shifting="linear",
        traffic_percentage="20",
        traffic_interval_minutes="2",
        termination_wait_minutes="0",
        waves="eu-west-2;ap-southeast-1,us-east-1",
        staging_regions="eu-west-1",
        manual_approval="true",
        test_traffic_check_path="/health",
        alarm_latency_percentile="p99.9",
    )
    shifting = config.rollout.traffic_shifting
    assert (shifting.mode, shifting.step_percentage, shifting.step_minutes) == ("linear", 20, 2)
    assert config.rollout.termination_wait_minutes == 0
    assert config.production_waves == (("eu-west-2",), ("ap-southeast-1", "us-east-1"))
    assert config.staging_regions == ("eu-west-1",)
    assert config.manual_approval is True
    assert config.rollout.test_traffic_check_path == "/health"


def test_rollout_defaults_are_safe():
    config = from_context()
    shifting = config.rollout.traffic_shifting
    assert (shifting.mode, shifting.step_percentage, shifting.step_minutes) == ("canary", 10, 5)
    assert config.rollout.termination_wait_minutes == 5
    assert config.production_waves == (("eu-west-2", "ap-southeast-1"),)
    assert (config.staging_regions, config.manual_approval, config.rollout.test_traffic_check_path) == (
        (),
        False,
        None,
    )


def test_waves_as_json():
    config = from_context(extra_regions=["us-east-1"], waves=[["us-east-1"], ["eu-west-2"]])
    assert config.production_waves == (("us-east-1",), ("eu-west-2",))


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {"traffic_shifting": "blue"},
            "traffic_shifting: 'blue' is not allowed; expected one of all_at_once, canary, linear",
        ),
        (
            {"traffic_percentage": "0"},
            "traffic_percentage: 0 is not allowed; expected a whole number from 1 to 99",
        ),
        (
            {"traffic_percentage": "100"},
            "traffic_percentage: 100 is not allowed; expected a whole number from 1 to 99",
        ),
        (
            {"traffic_shifting": "linear", "traffic_interval_minutes": "0"},
            "traffic_interval_minutes: 0 is not allowed; expected a whole number from 1 to 2880",
        ),
        (
            {"traffic_interval_minutes": "3000"},
            "traffic_interval_minutes: 3000 is not allowed; expected a whole number from 1 to 2880",
        ),
        (
            {"traffic_shifting": "all_at_once", "traffic_percentage": "10"},
            "traffic_percentage: 10 is not allowed; all_at_once shifts everything at once; leave it unset",
        ),
        (
            {"termination_wait_minutes": "-1"},
            "termination_wait_minutes: -1 is not allowed; expected a whole number from 0 to 2880",
        ),
        (
            {"alarm_latency_percentile": "p100"},
            "alarm_latency_percentile: 'p100' is not allowed; expected p50 to p99.99",
        ),
        (
            {"alarm_latency_percentile": "p10"},
            "alarm_latency_percentile: 'p10' is not allowed; expected p50 to p99.99",
        ),
        (
            {"alarm_5xx_per_minute": "0"},
            "alarm_5xx_per_minute: 0 is not allowed; expected a whole number from 1 to 1000000",
        ),
        ({"manual_approval": "maybe"}, "manual_approval: 'maybe' is not allowed; expected true or false"),
        ({"execution_mode": "fifo"}, "execution_mode: 'fifo' is not allowed; expected queued or superseded"),
        (
            {"build_compute": "xlarge"},
            "build_compute: 'xlarge' is not allowed; expected one of small, medium, large",
        ),
        (
            {"execution_mode": "parallel"},
            "execution_mode: 'parallel' is not allowed; expected queued or superseded: in parallel mode "
            "CodePipeline has no stage rollback, which every deploy stage of this pipeline uses when a region "
            "fails",
        ),
        (
            {"traffic_shifting": "linear", "traffic_percentage": "10", "traffic_interval_minutes": "2880"},
            "traffic_interval_minutes: 2880 is not allowed; a deployment would take up to 28925 minutes (28800 "
            "shifting traffic, 5 keeping blue, 120 starting tasks and hooks), more than the 7200 minutes (5 days) "
            "CodePipeline waits for a CodeDeploy ECS action",
        ),
        (
            {
                "traffic_shifting": "canary",
                "traffic_interval_minutes": "2880",
                "termination_wait_minutes": "2880",
                "traffic_percentage": "5",
            },
            None,
        ),
        ({"manual_approval": 1}, "manual_approval: 1 is not allowed; expected true or false"),
        (
            {"test_traffic_check_path": "health"},
            "test_traffic_check_path: 'health' is not allowed; expected a URL path starting with '/' "
            "(at most 1024 characters, no spaces)",
        ),
    ],
)
def test_impossible_rollout_values_are_rejected(context, expected):
    if expected is None:  # at the limit: accepted
        assert from_context(**context).rollout.termination_wait_minutes == 2880
        return
    assert config_error(**context) == expected


def test_the_longest_accepted_rollout_fits_codepipelines_action_limit():
    # linear 1% every 71 minutes: 100 steps counted, 7100 minutes, plus the allowance, is over 5 days.
    assert config_error(
        traffic_shifting="linear", traffic_percentage="1", traffic_interval_minutes="71"
    ).startswith("traffic_interval_minutes: 71 is not allowed; a deployment would take up to 7225 minutes")
    rollout = from_context(
        traffic_shifting="linear", traffic_percentage="1", traffic_interval_minutes="70"
    ).rollout
    assert rollout.traffic_shifting.shift_minutes + rollout.termination_wait_minutes + 120 <= 5 * 24 * 60


def test_wave_naming_an_unknown_region_is_rejected():
    assert config_error(waves="eu-west-2;ap-southeast-1,us-east-1") == (
        "waves: 'us-east-1' is not allowed; it is not a production region (eu-west-2, ap-southeast-1)"
    )


def test_wave_leaving_out_a_region_is_rejected():
    assert (
        config_error(waves="eu-west-2")
        == "waves: [['eu-west-2']] is not allowed; it leaves out ap-southeast-1"
    )


def test_region_in_two_waves_is_rejected():
    assert config_error(waves="eu-west-2;ap-southeast-1,eu-west-2") == (
        "waves: 'eu-west-2' is not allowed; it is in more than one wave; put each region in one wave"
    )


def test_empty_wave_is_rejected():
    assert config_error(waves="eu-west-2;;ap-southeast-1") == (
        "waves: [] is not allowed; each wave is a non-empty list of regions"
    )


def test_waves_of_the_wrong_shape_are_rejected():
    assert config_error(waves=["eu-west-2", "ap-southeast-1"]) == (
        "waves: ['eu-west-2', 'ap-southeast-1'] is not allowed; expected a list of waves, each a list of region codes"
    )


def test_bad_staging_regions_are_rejected():
    assert config_error(staging_regions="eu-west-1,eu-west-1") == (
        "staging_regions: 'eu-west-1' is not allowed; it is listed twice; list each region once"
    )
    assert config_error(staging_regions="moon-1").startswith("staging_regions: 'moon-1' is not allowed")


def test_the_docs_document_every_configuration_key():
    readme = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    undocumented = [key for key in CONTEXT_KEYS if f"`{key}`" not in readme]
    assert undocumented == []


# --- settings that would fail at deploy or release time ----------------------------


def test_any_port_and_path_go_with_either_bootstrap_image():
    """The default bootstrap image answers every path on the port the task gives it (tests/test_bootstrap_image.py)."""
    for own in ({}, {"bootstrap_image": "shop:boot"}):
        service = from_context(container_port="8080", health_check_path="/health", **own).service
        assert (service.container_port, service.health_check_path) == (8080, "/health")
        assert service.bootstrap_image == own.get("bootstrap_image")
    assert ServiceSettings().bootstrap_image is None


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("extra_region", "extra_regions"),
        ("containerport", "container_port"),
        ("stagingregions", "staging_regions"),
    ],
)
def test_unknown_setting_is_refused_with_the_closest_known_key(key, suggestion):
    message = config_error(**{key: "us-east-1"})
    assert message == f"{key}: unknown setting, neither this app's nor CDK's own; did you mean {suggestion}?"


def test_unknown_setting_without_a_close_key_points_to_the_readme():
    assert config_error(colour="blue").endswith("docs/configuration.md lists every setting")


def test_cdks_own_context_keys_are_not_settings_of_ours():
    config = from_context(
        **{
            "@aws-cdk/core:newStyleStackSynthesis": True,
            "aws:cdk:enable-path-metadata": True,
            "availability-zones:account=1:region=eu-west-2": ["eu-west-2a"],
            "cli-telemetry": False,
            "acknowledged-issue-numbers": [12345],
        }
    )
    assert config.regions == ("eu-west-2", "ap-southeast-1")


def test_availability_zones_name_a_regions_zones():
    config = from_context(
        extra_regions="us-west-1", availability_zones='{"us-west-1": ["us-west-1a", "us-west-1c"]}'
    )
    assert config.zones_for("us-west-1") == ("us-west-1a", "us-west-1c")
    assert config.zones_for("eu-west-2") is None


@pytest.mark.parametrize(
    ("zones", "expected"),
    [
        (
            '{"us-east-1": ["us-east-1a", "us-east-1b"]}',
            "availability_zones: 'us-east-1' is not allowed; it is not a deployment region",
        ),
        (
            '{"eu-west-2": ["eu-west-2a"]}',
            "availability_zones: ['eu-west-2a'] is not allowed; expected 2 to 6 different zone names of eu-west-2",
        ),
        (
            '{"eu-west-2": ["eu-west-2a", "eu-west-2a"]}',
            "availability_zones: ['eu-west-2a', 'eu-west-2a'] is not allowed; expected 2 to 6",
        ),
        (
            '{"eu-west-2": ["euw2-az1", "euw2-az2"]}',
            "availability_zones: 'euw2-az1' is not allowed; expected a zone name of eu-west-2 such as eu-west-2a",
        ),
        (
            '{"eu-west-2": ["us-east-1a", "eu-west-2b"]}',
            "availability_zones: 'us-east-1a' is not allowed; expected a zone name of eu-west-2",
        ),
        (
            '{"eu-west-2": "eu-west-2a"}',
            "availability_zones: {'eu-west-2': 'eu-west-2a'} is not allowed; expected a list of zone names",
        ),
        ("eu-west-2a", "availability_zones: 'eu-west-2a' is not allowed; expected a JSON object"),
    ],
)
def test_bad_availability_zones_are_refused(zones, expected):
    assert config_error(availability_zones=zones).startswith(expected)


def test_connection_outside_the_home_region_is_refused():
    arn = CONNECTION.replace(":eu-west-2:", ":us-east-1:")
    message = config_error(source_connection_arn=arn, source_repository="acme/shop", source_branch="main")
    assert message == (
        f"source_connection_arn: {arn!r} is not allowed; the connection must be in home_region eu-west-2, "
        "where the pipeline runs"
    )


@pytest.mark.parametrize("service", ["codeconnections", "codestar-connections"])
def test_both_connection_arn_forms_are_accepted(service):
    arn = CONNECTION.replace("codestar-connections", service)
    source = from_context(
        source_connection_arn=arn, source_repository="acme/shop", source_branch="main"
    ).source
    assert (source.service_prefix, source.region) == (service, "eu-west-2")


# --- the ECS engine ---------------------------------------------------------------------------


def test_the_engine_is_codedeploy_unless_ecs_is_chosen():
    assert from_context().rollout.engine == "codedeploy"
    assert from_context(deployment_engine="ecs").rollout.engine == "ecs"
    assert config_error(deployment_engine="fargate") == (
        "deployment_engine: 'fargate' is not allowed; expected one of codedeploy, ecs"
    )


@pytest.mark.parametrize(
    ("percentage", "waits"),
    # (CloudFormation schema, LinearConfiguration): 100/p - 1 waits when p divides 100, else floor(100/p).
    [(10, 9), (25, 3), (30, 3), (3, 33), (50, 1), (99, 1)],
)
def test_ecs_waits_after_every_linear_step_but_the_last(percentage, waits):
    shifting = TrafficShifting(mode="linear", percentage=percentage, interval_minutes=2)
    assert shifting.ecs_shift_minutes == waits * 2


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {"traffic_shifting": "linear", "traffic_percentage": "2"},
            "traffic_percentage: 2 is not allowed; with deployment_engine ecs, linear steps are 3-99 percent",
        ),
        (
            # ECS's own defaults (linear 10% every 6 minutes) do not fit the hour.
            {"traffic_shifting": "linear", "traffic_percentage": "10", "traffic_interval_minutes": "6"},
            "traffic_interval_minutes: 6 is not allowed; with deployment_engine ecs a deployment could take 69 "
            "minutes (54 shifting traffic, 5 baking, 0 migrating, 10 starting and checking tasks), more than "
            "the 60 minutes CodePipeline's ECS action waits",
        ),
        (
            # The largest part is named.
            {"traffic_interval_minutes": "30", "termination_wait_minutes": "21"},
            "traffic_interval_minutes: 30 is not allowed; with deployment_engine ecs a deployment could take 61 "
            "minutes (30 shifting traffic, 21 baking, 0 migrating, 10 starting and checking tasks), more than "
            "the 60 minutes CodePipeline's ECS action waits",
        ),
        (
            {
                "database": "aurora-postgresql",
                "migration_command": '["python", "migrate.py"]',
                "migration_timeout_minutes": "14",
                "traffic_interval_minutes": "10",
                "termination_wait_minutes": "27",
            },
            "termination_wait_minutes: 27 is not allowed; with deployment_engine ecs a deployment could take 61 "
            "minutes (10 shifting traffic, 27 baking, 14 migrating, 10 starting and checking tasks), more than "
            "the 60 minutes CodePipeline's ECS action waits",
        ),
    ],
)
def test_ecs_settings_that_cannot_finish_within_the_action_hour_are_refused(context, expected):
    assert config_error(deployment_engine="ecs", **context) == expected
    # The same settings fit CodeDeploy's five days.
    assert from_context(**context).rollout.engine == "codedeploy"


def test_ecs_settings_at_the_hour_are_accepted():
    # canary: 30 minutes shifting, 20 baking, 10 starting: 60.
    rollout = from_context(
        deployment_engine="ecs", traffic_interval_minutes="30", termination_wait_minutes="20"
    ).rollout
    assert rollout.traffic_shifting.ecs_shift_minutes + rollout.termination_wait_minutes + 10 == 60


@pytest.mark.parametrize(
    ("value", "refusal"),
    [
        ("soon", "wave_bake_minutes: 'soon' is not allowed; expected a whole number"),
        ("721", "wave_bake_minutes: 721 is not allowed; expected a whole number from 0 to 720"),
        ("-5", "wave_bake_minutes: -5 is not allowed; expected a whole number from 0 to 720"),
    ],
)
def test_a_bad_bake_is_refused_in_one_line(value, refusal):
    assert config_error(wave_bake_minutes=value) == refusal
