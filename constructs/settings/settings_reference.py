"""Every setting of the app: its key, its default as the docs show it, and what it means.

The one list of settings: ``CONTEXT_KEYS`` (release_config.py) is its keys, and docs/configuration.md's
table is generated from it (``make settings-reference``; tests/test_settings_reference.py keeps them equal).
Meanings are Markdown; links are relative to docs/.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    """One setting: ``key`` in cdk.json's context, ``default`` and ``meaning`` as the reference shows them."""

    key: str
    default: str
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "account",
        "`$CDK_DEFAULT_ACCOUNT`, else `111111111111`",
        "12-digit account of the pipeline, and of every stack `region_accounts`, `staging_account` and `hosted_zone_account` do not place elsewhere (the placeholder only synthesizes)",
    ),
    Setting(
        "home_region",
        "`eu-west-2`",
        "where the pipeline lives; also deployed to",
    ),
    Setting(
        "extra_regions",
        '`["ap-southeast-1"]`',
        "other deployment regions: a JSON list in `cdk.json`, `-c extra_regions=us-east-1,sa-east-1` on the command line; may be empty",
    ),
    Setting(
        "app_name",
        "`webapp`",
        "prefix of the stack names; 2-32 lowercase letters, digits and single hyphens (ECR and S3 names start with it)",
    ),
    Setting(
        "container_name",
        "`web`",
        "the container the load balancer routes to",
    ),
    Setting(
        "container_port",
        "`80`",
        "its port",
    ),
    Setting(
        "cpu",
        "`256`",
        "Fargate task CPU units; with `memory_mib` a combination Fargate offers",
    ),
    Setting(
        "memory_mib",
        "`512`",
        "Fargate task memory in MiB; with `cpu` a combination Fargate offers",
    ),
    Setting(
        "desired_count",
        "`2`",
        "tasks per region",
    ),
    Setting(
        "health_check_path",
        "`/`",
        "target-group health check",
    ),
    Setting(
        "test_listener_port",
        "`8080`",
        "port of the test listener (not 80)",
    ),
    Setting(
        "bootstrap_image",
        "the project's own (`release/bootstrap`, built by the CDK CLI during `cdk deploy`)",
        "image the service starts with before the first release; it must answer `health_check_path` on `container_port` as `container_user` with the root filesystem as configured. The default answers every path with 200 on the port in `PORT` (the task definition sets it) as uid 10001 and writes nothing; building it needs Docker (or `CDK_DOCKER`) on the machine that runs `make deploy` (`make preflight` checks)",
    ),
    Setting(
        "container_user",
        "`10001`",
        "the non-root user the container runs as (`uid`, `uid:gid`, `user`, `user:group`; never root): the bootstrap image's and every release's. 10001 is the default bootstrap image's and the sample's uid; set your image's own user",
    ),
    Setting(
        "readonly_root_filesystem",
        "`true`",
        "the container cannot write to its image's files; only `scratch_paths` are writable",
    ),
    Setting(
        "scratch_paths",
        '`["/tmp"]`',
        "writable, empty directories with a read-only root (task storage, gone when the task stops). Each is owned by root (mode 0755) unless the image declares the directory a `VOLUME`, whose content, owner and mode ECS then copies in (the sample declares `/tmp`); a JSON list, or comma-separated with `-c`",
    ),
    Setting(
        "deployment_engine",
        "`codedeploy`",
        "who runs each region's blue/green deployment: `codedeploy` (CodeDeploy deployment groups, CodeDeployToECS actions) or `ecs` (Amazon ECS's built-in blue/green, CodePipeline's ECS actions, no CodeDeploy resources); see [Two deployment engines](deployment-engines.md)",
    ),
    Setting(
        "traffic_shifting",
        "`canary`",
        "how production traffic moves to green: `all_at_once`, `canary` or `linear` (with `ecs`: ECS's `BLUE_GREEN`, `CANARY`, `LINEAR` strategies)",
    ),
    Setting(
        "traffic_percentage",
        "`10`",
        "canary: first step; linear: every step (1-99, with `ecs` linear 3-99; not with `all_at_once`)",
    ),
    Setting(
        "traffic_interval_minutes",
        "`5` canary, `3` linear",
        "minutes between steps (1-2880). Canary 10/5, 10/15 and linear 10/1, 10/3 use CodeDeploy's predefined configurations, other numbers a custom one. The whole shift plus `termination_wait_minutes` must fit CodePipeline's 5-day limit for a deploy action (with two hours kept for tasks to start and hooks); with `ecs`, the shift, the bake time and the migration must fit the ECS action's hour (see [Two deployment engines](deployment-engines.md))",
    ),
    Setting(
        "termination_wait_minutes",
        "`5`",
        "how long the blue task set stays after the shift, for an instant rollback (0-2880); with `ecs` it is the bake time, during which the alarms still roll back",
    ),
    Setting(
        "alarm_5xx_per_minute",
        "`5`",
        "alarm when targets answer this many 5xx in a minute",
    ),
    Setting(
        "alarm_unhealthy_hosts",
        "`1`",
        "alarm when this many targets are unhealthy",
    ),
    Setting(
        "alarm_latency_ms",
        "`1500`",
        "alarm when target response time at `alarm_latency_percentile` reaches this many milliseconds",
    ),
    Setting(
        "alarm_latency_percentile",
        "`p99`",
        "the percentile of target response time that `alarm_latency_ms` watches (p50-p99.99)",
    ),
    Setting(
        "alarm_evaluation_minutes",
        "`2`",
        "consecutive breaching minutes before an alarm fires",
    ),
    Setting(
        "test_traffic_check_path",
        "unset",
        "when set, a Lambda function requests this path on the test listener (the green task set) after test traffic is allowed; production traffic shifts only if it answers 2xx/3xx (5 tries, 6 s apart; redirects are followed only while they stay on the test listener; one leading elsewhere, such as production, is the answer, so the check never reaches the blue task set)",
    ),
    Setting(
        "waves",
        "one wave of all regions",
        "production rollout order: a JSON list of lists in `cdk.json`, `-c waves='eu-west-2;ap-southeast-1'` (`;` between waves, `,` between the regions of one); every production region in exactly one wave; with more than one, each wave is a pipeline stage of its own",
    ),
    Setting(
        "wave_bake_minutes",
        "`30`",
        "with more than one wave, the least time each region of a wave but the last keeps blue (the ECS engine: bakes) after its traffic has shifted, its deployment alarms watching, before the next wave starts (0-720; on the ECS engine within the ECS action's hour; `0` turns bakes off): an alarm rolls the region back to blue and stops the release (see [Safe rollouts](safe-rollouts.md#waves-and-bakes))",
    ),
    Setting(
        "deployment_windows",
        "none (any time)",
        'JSON object production region → `{"cron": …, "timezone": …}` (with `-c`, the JSON as text): the hours its wave may start, the wave stage\'s entry condition (CodePipeline\'s `DeploymentWindow` rule). `cron`: six fields and an optional year, seconds `*`, one of day-of-month and day-of-week `?`, months and days as names, such as `"* * 9-16 ? * MON-FRI *"` (09:00-16:59, Monday to Friday); `timezone` (required): Region/City such as `Asia/Singapore`, or `UTC`/`UTC+08:00`; the regions of one wave share one window or have none (see [Safe rollouts](safe-rollouts.md#deployment-windows))',
    ),
    Setting(
        "staging_regions",
        "`[]`",
        "regions of a staging copy (own stacks `<app_name>-staging-<region>`) that each release reaches first",
    ),
    Setting(
        "region_accounts",
        "none (every region in `account`)",
        "JSON object production region → 12-digit account that region's stack is in, for one account per jurisdiction; a region not named is in `account`, with the pipeline (see docs/accounts.md)",
    ),
    Setting(
        "staging_account",
        "unset (`account`)",
        "12-digit account of the staging copies (with `staging_regions`)",
    ),
    Setting(
        "hosted_zone_account",
        "unset (`account`)",
        "12-digit account of the hosted zone (with `domain_name`); the regions of other accounts write their records through a role there",
    ),
    Setting(
        "manual_approval",
        "`false`",
        "a person approves each release before production",
    ),
    Setting(
        "execution_mode",
        "`queued`",
        "how the pipeline handles a release started while another runs: `queued` (each waits its turn, in order) or `superseded` (a newer release replaces an older one waiting between stages); `parallel` is refused (no stage rollback); see [Operating](operating.md#releases-started-together)",
    ),
    Setting(
        "build_compute",
        "`small`",
        "CodeBuild compute size of the image build: `small` (2 vCPUs, 3 GB), `medium` (4 vCPUs, 7 GB) or `large` (8 vCPUs, 15 GB); a larger one builds and pushes faster and costs more per minute",
    ),
    Setting(
        "availability_zones",
        "none (the region's first two zones)",
        "JSON object region → 2-6 zone names as your account sees them, for regions where Fargate is not offered in every zone (see [Deploy-time traps](deploy-traps.md))",
    ),
    Setting(
        "database",
        "`none`",
        "`aurora-postgresql`: every regional stack (production and staging) gets its own Aurora PostgreSQL Serverless v2 cluster (see [Each region's own database](database.md))",
    ),
    Setting(
        "database_min_acu",
        "`0`",
        "least capacity in Aurora capacity units, steps of 0.5 (0-256); `0` lets an idle cluster pause",
    ),
    Setting(
        "database_max_acu",
        "`4`",
        "most capacity in Aurora capacity units, steps of 0.5 (1-256, at least `database_min_acu`)",
    ),
    Setting(
        "database_backup_days",
        "`7`",
        "days of automated backups, kept in the region (1-35)",
    ),
    Setting(
        "migration_command",
        "unset",
        'the container command each release runs once per region, in the released image and task definition, before that region\'s traffic shifts: a JSON list such as `["python", "migrate.py"]` (`-c \'migration_command=["python","migrate.py"]\'`); needs `database`',
    ),
    Setting(
        "migration_timeout_minutes",
        "`10`",
        "a migration still running after this is stopped and fails the region's deployment (1-14: the hook waits inside one Lambda invocation)",
    ),
    Setting(
        "waf",
        "`true`",
        "a regional AWS WAF web ACL on every load balancer (rate limit per client IP, AWS managed rule groups, logs in the region); `false` leaves the load balancers without one (see [Security](security.md))",
    ),
    Setting(
        "waf_rate_limit",
        "`2000`",
        "requests one client IP may make in 5 minutes before the web ACL blocks it (10-2,000,000,000)",
    ),
    Setting(
        "domain_name",
        "unset",
        "the service's own domain, such as `shop.example.com`: every region gets a DNS-validated ACM certificate, HTTPS (TLS 1.2+) with port 80 redirecting, the name `<region>.<domain_name>` and its share of `<domain_name>` (see [The front door](front-door.md)); needs the two zone settings",
    ),
    Setting(
        "hosted_zone_id",
        "unset",
        "the ID (`Z...`) of the Route 53 public hosted zone `domain_name` is in, in `hosted_zone_account` (default `account`); named, never looked up",
    ),
    Setting(
        "hosted_zone_name",
        "unset",
        "that hosted zone's name, such as `example.com`",
    ),
    Setting(
        "routing",
        "`latency`",
        "how `<domain_name>` picks a region: `latency` (nearest healthy region, by Route 53 health checks), `geolocation` (by `residency`, no fail-over) or `none` (no record for `<domain_name>`, regional names only); switching between `latency` and `geolocation` goes through `none` (see [The front door](front-door.md))",
    ),
    Setting(
        "residency",
        "unset",
        "with `geolocation`: JSON object location → production region; a location is a continent code (`AF`, `AN`, `AS`, `EU`, `NA`, `OC`, `SA`), an ISO 3166-1 alpha-2 country code (`DE`; `country:NA` for the four countries whose codes are also continents': AF, AS, NA, SA), or `*` for every other location (required)",
    ),
    Setting(
        "notification_emails",
        "unset",
        "addresses subscribed to every copy's notification topic (alarms, failed deployments and rollbacks; the home region's production topic also how each release ended): one topic per production region and one per staging copy, so each address gets one confirmation mail per copy and must confirm each within 48 hours, or that copy tells it nothing (`make status` lists the unconfirmed; see [Notifications](observability.md#notifications)). A JSON list, or comma-separated with `-c`",
    ),
    Setting(
        "allow_plain_http",
        "`false` (`true` in the shipped `cdk.json`)",
        "let a production region without `domain_name` or a certificate in `certificate_arns` serve plain HTTP on the internet: for trying the app out; without it such a region is refused at synth, and `make plan` names the regions that serve plain HTTP. Staging copies may always",
    ),
    Setting(
        "security_log_retention_days",
        "`365`",
        "days the security logs are kept: VPC flow logs, WAF logs, the database's logs, load balancer and S3 access logs (one of CloudWatch Logs' periods: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653; PCI DSS 10.7 asks for a year). Application logs are kept 30 days",
    ),
    Setting(
        "certificate_arns",
        "unset",
        "JSON object region → ACM certificate ARN in that region and account: that region's production listener serves HTTPS with it (see [Security](security.md))",
    ),
    Setting(
        "container_secrets",
        "unset",
        "JSON object variable → `secretsmanager:NAME` or `ssm:/PARAMETER` in each region: the container gets the value, the task definition only its ARN (see [Security](security.md))",
    ),
    Setting(
        "source_object_key",
        "`source.zip`",
        "S3 source: the key whose upload starts a release",
    ),
    Setting(
        "source_connection_arn",
        "unset",
        "with `source_repository` and `source_branch` (all three or none): take the source from GitHub through this connection in `home_region` instead of S3; both ARN forms work (`arn:aws:codeconnections:...`, made since 2024, and `arn:aws:codestar-connections:...`), and the source action may use exactly that connection",
    ),
    Setting(
        "source_repository",
        "unset",
        "the GitHub repository released, `owner/name` (with `source_connection_arn`)",
    ),
    Setting(
        "source_branch",
        "unset",
        "the branch released (with `source_connection_arn`)",
    ),
)
