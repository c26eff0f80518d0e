"""The support stack of one deployment region."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnOutput, Environment, Fn, Stack
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.engines.blue_green_deployment import EcsBlueGreenDeployment
from constructs.engines.ecs_blue_green import EcsBuiltInBlueGreen, ecs_service_deployment
from constructs.engines.lifecycle_hook import AFTER_INSTALL, AFTER_TEST_TRAFFIC
from constructs.engines.schema_migration import SchemaMigration
from constructs.engines.test_traffic_check import TestTrafficCheck
from constructs.nag_acknowledgments import arn_of
from constructs.pipeline.deploy_action_role import DeployActionRole
from constructs.pipeline.deploy_target import RegionDeployment
from constructs.pipeline.release_reader_role import ReleaseReaderRole
from constructs.region.buckets import (
    ARTIFACT_RETENTION_DAYS,
    access_log_bucket,
    acknowledge_self_logging,
    private_bucket,
)
from constructs.region.database_users import DatabaseUsers
from constructs.region.protection_after_create import ProtectionAfterCreate
from constructs.region.regional_database import RegionalDatabase
from constructs.region.regional_domain import RegionalDomain
from constructs.region.regional_service import RegionalEcsService
from constructs.region.release_notifications import NotificationSettings, ReleaseNotifications
from constructs.region.remote_zone import ZoneWriterRole
from constructs.region.web_firewall import RegionalWebFirewall, WebFirewallSettings
from constructs.settings.database_settings import DatabaseSettings
from constructs.settings.domain_settings import DomainSettings
from constructs.settings.feature_flags import pin_feature_flags
from constructs.settings.retention import RETENTION_DAYS, SECURITY_LOG_RETENTION_DAYS
from constructs.settings.rollout_settings import RolloutSettings
from constructs.settings.service_settings import ServiceSettings

ZONE_COUNT = 2


class RegionalServiceStack(Stack):
    """The service, its blue/green deployments and what the pipeline needs in one region.

    Its outputs: ``ServiceUrl``, this copy's address (``https://<region>.<domain>``,
    ``https://<region>.staging.<domain>`` for staging; without a domain the load
    balancer's DNS name, over HTTPS with a certificate, else plain HTTP), which
    ``make status`` and ``make release`` print; ``NotificationTopicArn``.

    Args:
        env: account and region; both explicit.
        settings: what runs in the region.
        rollout: how a release rolls out here (engine, traffic shifting, alarms, checks):
            ``codedeploy`` builds an :class:`EcsBlueGreenDeployment`, ``ecs`` an
            :class:`EcsBuiltInBlueGreen`.
        deploy_action_role: hold the role of the pipeline's deploy actions in
            this region (see ``deploy_action_role``), trusted by the pipeline's
            role only. Needed in every region but the pipeline's own, and in
            every stack of another account than the pipeline's (CodePipeline
            runs an action in its role's account). Default ``False``.
        artifact_bucket: hold the pipeline's artifact bucket in this region
            (not the pipeline's own), KMS-encrypted with the AWS-managed
            ``aws/s3`` key, which AWS rotates, for a region whose stacks are
            all in the pipeline's account (that key cannot be used from another
            account: a region with a stack elsewhere has an
            :class:`~stacks.artifact_store_stack.ArtifactStoreStack`). Needs
            ``deploy_action_role``. Default ``False``.
        pipeline_account: the account of the release pipeline, whose role the
            deploy action role trusts. Default this stack's.
        certificate_arn: ACM certificate for an HTTPS production listener. Default
            none: HTTP, or with a ``domain`` a new certificate for its names.
        domain: the service's domain (see :class:`RegionalDomain`). Default
            ``DomainSettings()``: none.
        zone_writer: with the domain's hosted zone in another account, this
            stack's writer role there (see :class:`RegionalDomain`). Default none.
        staging: a staging copy (its name is ``<region>.staging.<domain>``). Default ``False``.
        zones: names of the availability zones the network spans (at least
            two). Default none: the region's first two zones (``Fn::GetAZs``).
        database: the region's own database and the release's schema
            migration. Default ``DatabaseSettings()``: none.
        web_firewall: the WAF web ACL in front of the load balancer. Default
            ``WebFirewallSettings()``: on, 2000 requests per client IP per 5 minutes.
        notifications: who is subscribed to the region's topic (:attr:`notifications`),
            which hears of every deployment alarm and failed deployment. Default
            ``NotificationSettings()``: no one yet.
        security_log_retention_days: days the flow, WAF, database and access logs are kept (one of
            CloudWatch Logs' periods). Default ``365``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: Environment,
        stack_name: str,
        settings: ServiceSettings,
        rollout: RolloutSettings,
        deploy_action_role: bool = False,
        artifact_bucket: bool = False,
        pipeline_account: str | None = None,
        certificate_arn: str | None = None,
        domain: DomainSettings | None = None,
        zone_writer: ZoneWriterRole | None = None,
        staging: bool = False,
        zones: Sequence[str] | None = None,
        database: DatabaseSettings | None = None,
        web_firewall: WebFirewallSettings | None = None,
        notifications: NotificationSettings | None = None,
        security_log_retention_days: int = SECURITY_LOG_RETENTION_DAYS,
        description: str | None = None,
    ) -> None:
        database = database or DatabaseSettings()
        web_firewall = web_firewall or WebFirewallSettings()
        self._zones = tuple(zones) if zones else None
        super().__init__(scope, construct_id, env=env, stack_name=stack_name, description=description)
        pin_feature_flags(self)
        ecs_engine = rollout.engine == "ecs"
        security_logs = RETENTION_DAYS[security_log_retention_days]
        self.access_logs = access_log_bucket(self, "AccessLogs", retention_days=security_log_retention_days)
        self.domain: RegionalDomain | None = None
        if domain and domain.enabled:
            self.domain = RegionalDomain(
                self,
                "Domain",
                settings=domain,
                region=self.region,
                staging=staging,
                certificate_arn=certificate_arn,
                zone_writer=zone_writer,
            )
            certificate_arn = self.domain.certificate_arn
        self.service = RegionalEcsService(
            self,
            "Service",
            settings=settings,
            access_logs=self.access_logs,
            certificate_arn=certificate_arn,
            zone_count=len(self.availability_zones),
            isolated_subnets=database.enabled,
            flow_log_retention=security_logs,
            deployment=ecs_service_deployment(rollout) if ecs_engine else None,
        )
        if self.domain:
            self.domain.route_to(self.service.load_balancer, health_check_path=settings.health_check_path)
        self.service_url, url_description = self._address(https=certificate_arn is not None)
        CfnOutput(self, "ServiceUrl", value=self.service_url, description=url_description)
        # Built with waf off too: it then keeps only its log group, which a later waf=true reuses
        # (a retained group of the same name would fail the create).
        self.web_firewall = RegionalWebFirewall(
            self,
            "WebFirewall",
            load_balancer=self.service.load_balancer,
            rate_limit=web_firewall.rate_limit,
            enabled=web_firewall.enabled,
            log_retention=security_logs,
        )
        self.database: RegionalDatabase | None = None
        if database.enabled:
            self.database = RegionalDatabase(
                self, "Database", vpc=self.service.vpc, settings=database, log_retention=security_logs
            )
            self.service.use_database(self.database)
            self.database_users = DatabaseUsers(
                self, "DatabaseUsers", service=self.service, database=self.database
            )
        engine = EcsBuiltInBlueGreen if ecs_engine else EcsBlueGreenDeployment
        self.deployment = engine(self, "BlueGreen", service=self.service, rollout=rollout)
        self.notifications = ReleaseNotifications(
            self, "Notifications", emails=(notifications or NotificationSettings()).emails
        )
        self.notifications.watch(
            alarms=self.deployment.alarms.alarms, failures=self.deployment.failed_deployments
        )
        CfnOutput(
            self,
            "NotificationTopicArn",
            value=self.notifications.topic.topic_arn,
            description="Subscribe here to hear of this region's alarms and failed deployments",
        )
        self.test_traffic_check: TestTrafficCheck | None = None
        if rollout.test_traffic_check_path is not None:
            # Under the engine's construct, where it has always been (its functions keep their names).
            self.test_traffic_check = TestTrafficCheck(
                self.deployment,
                "TestTrafficCheck",
                service=self.service,
                runner=self.deployment.hooks,
                path=rollout.test_traffic_check_path,
            )
        self.migration: SchemaMigration | None = None
        if self.database and database.migration_command:
            self.migration = SchemaMigration(
                self,
                "Migration",
                service=self.service,
                database=self.database,
                runner=self.deployment.hooks,
                command=database.migration_command,
                timeout_minutes=database.migration_timeout_minutes,
            )

        self.deploy_action_role: DeployActionRole | None = None
        self.artifact_bucket: s3.Bucket | None = None
        pipeline_account = pipeline_account or self.account
        if artifact_bucket and (pipeline_account != self.account or not deploy_action_role):
            raise ValueError(
                f"{stack_name}: artifact_bucket needs deploy_action_role and the pipeline's account (aws/s3)"
            )
        if deploy_action_role:
            # CDK's default role for a cross-region CodeDeploy action lives in
            # the pipeline stack and makes the artifact bucket's stack depend
            # on it, a dependency cycle (aws/aws-cdk#26691); CDK also makes the
            # bucket's stack depend on every action role of the region. One
            # role, next to the bucket, keeps all dependencies pointing from
            # the pipeline to the regions; in another account the action must
            # have a role of that account, since CodePipeline runs an action in
            # its role's account.
            self.deploy_action_role = DeployActionRole.trusting_pipeline(
                self,
                "PipelineDeployActionRole",
                pipeline_account=pipeline_account,
                artifact_key_account=None if pipeline_account == self.account else pipeline_account,
            )
        self.release_reader: ReleaseReaderRole | None = None
        if pipeline_account != self.account:
            self.release_reader = ReleaseReaderRole(
                self,
                "ReleaseReaderRole",
                pipeline_account=pipeline_account,
                cluster_arn=self.service.cluster.cluster_arn,
            )
        if artifact_bucket:
            self.artifact_bucket = private_bucket(
                self,
                "PipelineArtifacts",
                access_logs=self.access_logs,
                # aws/s3: a customer key here would have to be granted to the
                # pipeline's role across regions, which CDK does on every key ("*").
                kms_managed=True,
                generated_name=True,
                expiration_days=ARTIFACT_RETENTION_DAYS,
            )
            self.deploy_action_role.complete(self.region_deployment, f"{arn_of(self.artifact_bucket)}/*")
        else:
            acknowledge_self_logging(self.access_logs)
        self.protection = ProtectionAfterCreate(
            self,
            "DeletionProtection",
            load_balancers=[self.service.load_balancer],
            clusters=[self.database.cluster] if self.database else [],
        )

    def _address(self, *, https: bool) -> tuple[str, str]:
        """This copy's URL and its description: its name in the domain, else its load balancer's DNS name."""
        if self.domain:
            settings = self.domain.settings
            if self.domain.staging:
                shared = f"a staging copy: no share of {settings.name}"
            elif settings.routing == "none":
                shared = f"routing none: {settings.name} has no record"
            else:
                shared = f"{settings.name} reaches the production regions by {settings.routing} routing"
            return f"https://{self.domain.regional_name}", f"This copy's address: its own name ({shared})"
        dns_name = self.service.load_balancer.load_balancer_dns_name
        if https:
            return (
                Fn.join("", ["https://", dns_name]),
                "This copy's address: HTTPS on the load balancer's DNS name, which the certificate of "
                "certificate_arns does not name (browsers warn): point a name it covers at the load balancer",
            )
        return (
            Fn.join("", ["http://", dns_name]),
            "This copy's address: plain HTTP on the load balancer's DNS name (allow_plain_http, or a staging copy)",
        )

    def protect_last(self) -> None:
        """Let the deletion protection resource come after every other resource of the stack.

        Call once nothing more is added to the stack (after the pipeline has bound its actions, which add
        policies to this stack's deploy action role).
        """
        self.protection.come_last()

    @property
    def region_deployment(self) -> RegionDeployment:
        """How the pipeline deploys this region, by its engine."""
        return self.deployment.region_deployment(self.hooks)

    @property
    def hooks(self) -> tuple[tuple[str, str], ...]:
        """(CodeDeploy lifecycle event, function name) of every hook, as a CodeDeploy appspec names them."""
        found = []
        if self.migration:
            found.append((AFTER_INSTALL.codedeploy_event, self.migration.function.function_name))
        check = self.test_traffic_check
        if check:
            found.append((AFTER_TEST_TRAFFIC.codedeploy_event, check.function.function_name))
        return tuple(found)

    @property
    def availability_zones(self) -> list[str]:
        """The configured zones, else two ``Fn::GetAZs`` tokens resolved by CloudFormation at deploy time.

        A stack with an explicit environment would otherwise look the zones up
        from the account during synth, which needs credentials; zone names
        also differ between regions and accounts, so none are guessed here.
        """
        if not self._zones:
            # Once: CDK asks for the zones more than once while it builds the network.
            self._zones = tuple(Fn.select(index, Fn.get_azs(self.region)) for index in range(ZONE_COUNT))
        return list(self._zones)
