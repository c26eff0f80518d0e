"""The reusable construct: a service in every configured region, released by one pipeline."""

from __future__ import annotations

from aws_cdk import Environment

from constructs import Construct
from constructs.release_config import ReleaseConfig
from constructs.release_pipeline import DeployTarget
from stacks.pipeline_stack import PipelineStack
from stacks.regional_service_stack import RegionalServiceStack


class MultiRegionBlueGreenRelease(Construct):
    """One ECS Fargate service in several regions, released to all of them at once.

    Creates, under this construct, one :class:`RegionalServiceStack` per
    deployment region (named ``<app_name>-<region>``) and one
    :class:`PipelineStack` in the home region (``<app_name>-pipeline``) whose
    production stage deploys every region in parallel with CodeDeploy
    blue/green. The pipeline stack depends on every regional stack, so
    ``cdk deploy --all`` creates the regions first.

    Usage::

        app = App()
        MultiRegionBlueGreenRelease(app, "Shop", config=ReleaseConfig(
            account="123456789012", home_region="eu-west-2",
            extra_regions=("ap-southeast-1", "us-east-1"), app_name="shop"))
        app.synth()

    Args:
        config: the validated release configuration.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: ReleaseConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.regional_stacks: dict[str, RegionalServiceStack] = {}
        for region in config.regions:
            self.regional_stacks[region] = RegionalServiceStack(
                self,
                region,
                env=Environment(account=config.account, region=region),
                stack_name=f"{config.app_name}-{region}",
                description=f"{config.app_name}: service and blue/green deployment in {region}",
                settings=config.service,
                pipeline_region=config.home_region,
            )
        targets = [
            DeployTarget(
                region=region,
                repository=stack.service.repository,
                task_definition_family=stack.service.task_definition.family,
                container_name=config.service.container_name,
                container_port=config.service.container_port,
                deployment_group=stack.deployment.deployment_group,
                action_role=stack.deploy_action_role,
            )
            for region, stack in self.regional_stacks.items()
        ]
        self.pipeline_stack = PipelineStack(
            self,
            "Pipeline",
            env=Environment(account=config.account, region=config.home_region),
            stack_name=f"{config.app_name}-pipeline",
            description=f"{config.app_name}: release pipeline for {', '.join(config.regions)}",
            source=config.source,
            targets=targets,
        )
        for stack in self.regional_stacks.values():
            self.pipeline_stack.add_stack_dependency(stack, "the pipeline deploys to this region")
