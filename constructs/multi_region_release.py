"""The reusable construct: a service in every configured region, released by one pipeline."""

from __future__ import annotations

from aws_cdk import Environment, Stack, Stage

from constructs import Construct
from constructs.pipeline.deploy_action_role import DeployActionRole
from constructs.pipeline.deploy_target import PRODUCTION, DeployTarget
from constructs.pipeline.release_dashboard import RegionPanel
from constructs.settings.release_config import ReleaseConfig
from stacks.artifact_store_stack import ArtifactStoreStack
from stacks.dns_stack import DnsStack
from stacks.pipeline_stack import PipelineStack
from stacks.regional_service_stack import RegionalServiceStack

STAGING = "staging"


class MultiRegionBlueGreenRelease(Construct):
    """One ECS Fargate service in several regions, released to all of them by one pipeline.

    Creates one :class:`RegionalServiceStack` per production region
    (``<app_name>-<region>``), one per staging region if any
    (``<app_name>-staging-<region>``), and one :class:`PipelineStack` in the
    home region (``<app_name>-pipeline``) that deploys staging first, then
    production wave by wave (by default one wave: every region in parallel),
    each with a blue/green deployment. The pipeline stack depends on every
    regional stack, so ``cdk deploy --all`` creates the regions first.

    The stacks are created at the root of the app (or of the ``Stage`` this
    construct is in), each with its stack name as its construct ID, so the CDK
    CLI selects them by name (``cdk diff webapp-eu-west-2``). Generated
    physical names hash a stack's construct path: tests/test_physical_names.py
    pins them, since changing one replaces the resource on a deployed app.

    Usage::

        app = App()
        MultiRegionBlueGreenRelease(app, "Shop", config=ReleaseConfig(
            account="123456789012", home_region="eu-west-2",
            extra_regions=("ap-southeast-1", "us-east-1"), app_name="shop"))
        app.synth()

    Each of its stacks synthesizes with the CDK feature flags it is tested
    with (:data:`~constructs.settings.feature_flags.TESTED_FEATURE_FLAGS`, this
    project's ``cdk.json``) in any app, whatever the app's own flags; the two
    flags CDK reads at the app's root (``validateAgainstDefaultRules``,
    ``annotationsInValidationReport``) follow the app.

    Args:
        config: the validated release configuration.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: ReleaseConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        # Stacks live at the stage's root: the CLI matches stack selectors against construct paths only.
        self._stage = Stage.of(self) or self.node.root
        # Each region other than the pipeline's needs an artifact store. Where
        # the region's stacks are all in the pipeline's account, one of them
        # (production's, else staging's) holds it with the deploy action role;
        # otherwise a stack of the pipeline's account does (ArtifactStoreStack).
        away = {r for r in (*config.regions, *config.staging_regions) if r != config.home_region}
        self._shared_store = away - set(config.artifact_store_regions)
        self.dns_stack: DnsStack | None = None
        if config.remote_zone:
            self.dns_stack = DnsStack(
                self._stage,
                f"{config.app_name}-dns",
                env=Environment(account=config.zone_account, region=config.home_region),
                stack_name=f"{config.app_name}-dns",
                description=f"{config.app_name}: who may write which names in hosted zone "
                f"{config.domain.hosted_zone_id}",
                zone_id=config.domain.hosted_zone_id,
            )
        self.staging_stacks = {
            region: self._regional_stack(
                f"staging-{region}",
                region,
                holds_store=region in self._shared_store and region not in config.regions,
                staging=True,
            )
            for region in config.staging_regions
        }
        self.regional_stacks = {
            region: self._regional_stack(region, region, holds_store=region in self._shared_store)
            for region in config.regions
        }
        every_stack = (*self.staging_stacks.values(), *self.regional_stacks.values())
        self.support_stacks = {
            stack.region: stack for stack in every_stack if stack.artifact_bucket is not None
        }
        self.artifact_store_stacks = {
            region: ArtifactStoreStack(
                self._stage,
                f"{config.app_name}-artifacts-{region}",
                env=Environment(account=config.account, region=region),
                stack_name=f"{config.app_name}-artifacts-{region}",
                description=f"{config.app_name}: the release pipeline's artifacts in {region}",
                security_log_retention_days=config.security_log_retention_days,
                # A stack of the pipeline's account there uses this stack's role.
                deploy_action_role=config.account in config.accounts_in(region),
            )
            for region in config.artifact_store_regions
        }
        for stack in every_stack:
            if stack.region in self.artifact_store_stacks:
                self.artifact_store_stacks[stack.region].serve(stack)
        artifact_buckets = {
            **{region: stack.artifact_bucket for region, stack in self.support_stacks.items()},
            **{region: stack.bucket for region, stack in self.artifact_store_stacks.items()},
        }

        wave_of = {
            region: index for index, wave in enumerate(config.production_waves, start=1) for region in wave
        }
        wave_stages = len(config.production_waves) > 1
        targets = [self._target(stack, STAGING, wave=1) for stack in self.staging_stacks.values()] + [
            self._target(stack, PRODUCTION, wave=wave_of[region], wave_stage=wave_stages)
            for region, stack in self.regional_stacks.items()
        ]
        home = self.regional_stacks[config.home_region]
        self.pipeline_stack = PipelineStack(
            self._stage,
            f"{config.app_name}-pipeline",
            env=Environment(account=config.account, region=config.home_region),
            stack_name=f"{config.app_name}-pipeline",
            description=f"{config.app_name}: release pipeline for {', '.join(config.regions)}",
            source=config.source,
            targets=targets,
            artifact_buckets=artifact_buckets,
            manual_approval=config.manual_approval,
            execution_mode=config.execution_mode,
            build_compute=config.build_compute,
            wave_bake_minutes=config.wave_bake_minutes,
            notifications=home.notifications if home.account == config.account else config.notifications,
            security_log_retention_days=config.security_log_retention_days,
            dashboard_panels=[
                RegionPanel(
                    label=f"staging {stack.region}"
                    if stack in self.staging_stacks.values()
                    else stack.region,
                    region=stack.region,
                    service=stack.service,
                    alarms=stack.deployment.alarms.alarms,
                )
                for stack in (*self.regional_stacks.values(), *self.staging_stacks.values())
                # CloudWatch shows another account's metrics and alarms only where that account shares them.
                if stack.account == config.account
            ],
        )
        for stack in every_stack:
            self.pipeline_stack.add_stack_dependency(stack, "the pipeline deploys to this region")
        for stack in every_stack:
            if stack.domain and stack.domain.remote:
                self.dns_stack.serve(stack)
        for stack in self.artifact_store_stacks.values():
            self.pipeline_stack.add_stack_dependency(stack, "the pipeline keeps its artifacts there")
        for stack in (*every_stack, *self.artifact_store_stacks.values()):
            if stack.deploy_action_role is not None:
                stack.deploy_action_role.trust_pipeline_role(self.pipeline_stack.release_pipeline.role)
        for stack in every_stack:
            stack.protect_last()

    @property
    def stacks(self) -> list[Stack]:
        """Every stack of the release: regional, staging, artifact stores, the DNS account's, the pipeline's."""
        return [
            *self.regional_stacks.values(),
            *self.staging_stacks.values(),
            *self.artifact_store_stacks.values(),
            *([self.dns_stack] if self.dns_stack else []),
            self.pipeline_stack,
        ]

    def _regional_stack(
        self, name: str, region: str, *, holds_store: bool, staging: bool = False
    ) -> RegionalServiceStack:
        config = self.config
        account = config.account_of(region, staging=staging)
        stack_name = f"{config.app_name}-{name}"
        zone_writer = None
        if self.dns_stack and account != config.zone_account:
            names = config.domain.names_of(region, staging=staging)
            zone_writer = self.dns_stack.writer_for(
                stack_name,
                account=account,
                record_names=names if config.domain.routing != "none" or staging else names[1:],
                validated_names=() if config.certificate_for(region) else names,
            )
        return RegionalServiceStack(
            self._stage,
            stack_name,
            env=Environment(account=account, region=region),
            stack_name=stack_name,
            description=f"{config.app_name}: service and blue/green deployment ({name})",
            settings=config.service,
            rollout=config.rollout_for(region, staging=staging),
            deploy_action_role=holds_store or account != config.account,
            artifact_bucket=holds_store,
            pipeline_account=config.account,
            certificate_arn=config.certificate_for(region),
            domain=config.domain,
            zone_writer=zone_writer,
            staging=staging,
            zones=config.zones_for(region),
            database=config.database,
            web_firewall=config.web_firewall,
            notifications=config.notifications,
            security_log_retention_days=config.security_log_retention_days,
        )

    def _target(
        self, stack: RegionalServiceStack, environment: str, *, wave: int, wave_stage: bool = False
    ) -> DeployTarget:
        return DeployTarget(
            region=stack.region,
            repository=stack.service.repository,
            task_definition_family=stack.service.task_definition.family,
            container_name=self.config.service.container_name,
            container_port=self.config.service.container_port,
            deployment=stack.region_deployment,
            passed_roles=stack.service.passed_roles,
            action_role=stack.deploy_action_role or self._shared_role(stack.region),
            reader_role=stack.release_reader,
            environment=environment,
            wave=wave,
            wave_stage=wave_stage,
            window=self.config.window_for(stack.region) if environment == PRODUCTION else None,
        )

    def _shared_role(self, region: str) -> DeployActionRole | None:
        """The deploy action role of the stack that holds ``region``'s store, if one does."""
        store = self.support_stacks.get(region) or self.artifact_store_stacks.get(region)
        return store.deploy_action_role if store else None
