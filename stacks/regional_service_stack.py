"""The support stack of one deployment region."""

from __future__ import annotations

from aws_cdk import Environment, Fn, PhysicalName, Stack
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.blue_green_deployment import EcsBlueGreenDeployment
from constructs.regional_service import RegionalEcsService
from constructs.rollout_settings import RolloutSettings
from constructs.service_settings import ServiceSettings

ZONE_COUNT = 2


class RegionalServiceStack(Stack):
    """The service, its blue/green deployment group and what the pipeline needs in one region.

    Args:
        env: account and region; both explicit.
        settings: what runs in the region.
        rollout: how a release rolls out here (traffic shifting, alarms, checks).
        pipeline_region: the home region of the pipeline. When it differs from
            this stack's region the stack also holds the role of the
            pipeline's deploy action for this region (see ``deploy_action_role``).
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
        pipeline_region: str,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id, env=env, stack_name=stack_name, description=description)
        self.service = RegionalEcsService(self, "Service", settings=settings)
        self.deployment = EcsBlueGreenDeployment(self, "BlueGreen", service=self.service, rollout=rollout)

        # CDK's default role for a cross-region CodeDeploy action lives in the
        # pipeline stack and makes the replication bucket's stack depend on it,
        # a dependency cycle (aws/aws-cdk#26691). A role owned by this region's
        # stack keeps every dependency pointing from the pipeline to the regions.
        self.deploy_action_role: iam.Role | None = None
        if self.region != pipeline_region:
            self.deploy_action_role = iam.Role(
                self,
                "PipelineDeployActionRole",
                role_name=PhysicalName.GENERATE_IF_NEEDED,
                assumed_by=iam.AccountPrincipal(self.account),
                description=f"Assumed by the release pipeline in {pipeline_region} to deploy here",
            )

    @property
    def availability_zones(self) -> list[str]:
        """Two zones as ``Fn::GetAZs`` tokens, resolved by CloudFormation at deploy time.

        A stack with an explicit environment would otherwise look the zones up
        from the account during synth, which needs credentials; zone names
        also differ between regions, so none are written down here.
        """
        return [Fn.select(index, Fn.get_azs(self.region)) for index in range(ZONE_COUNT)]
