"""The bake after a production wave: the wave's deployment alarms watched for a while before the next wave."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge_all, arn_of
from constructs.pipeline.awaited_deployments import job_function
from constructs.pipeline.release_reader_role import ReleaseReaderRole


@dataclass(frozen=True, kw_only=True)
class BakedRegion:
    """One region a bake watches: where its deployment names its alarms.

    The alarms are read when the bake runs, from what the region's deployment itself watches (the CodeDeploy
    deployment group's alarm configuration, or the ECS service's deployment alarms), so a bake watches
    exactly the alarms that would stop a deployment there.

    Attributes:
        region: where the service runs.
        deployment_group: the CodeDeploy deployment group's application and name (CodeDeploy engine), or
        service: the ECS service's cluster and name (ECS engine).
        grant_arn: the deployment group's ARN, or the cluster's (what the reads are scoped to).
        reader_role: in another account than the pipeline's, the role the function assumes to read there.
    """

    region: str
    deployment_group: tuple[str, str] | None = None
    service: tuple[str, str] | None = None
    grant_arn: str
    reader_role: ReleaseReaderRole | None = None

    def as_parameter(self) -> dict[str, str]:
        where = (
            {"application": self.deployment_group[0], "group": self.deployment_group[1]}
            if self.deployment_group
            else {"cluster": self.service[0], "service": self.service[1]}
        )
        return {
            "region": self.region,
            **where,
            **({"reader_role_arn": self.reader_role.role_arn} if self.reader_role else {}),
        }


class BakedWaves(Construct):
    """A Lambda invoke action per baked wave: it watches the wave's deployment alarms for ``minutes``.

    The action runs last in a wave's stage (after its deploy actions and, on the ECS engine, the wait for
    them) and runs ``release/hooks/bake_wave.py``: an alarm in ALARM fails the action, so the stage fails and
    rolls back (``OnFailure: ROLLBACK``), and the next wave's stage never starts. A Lambda invoke action, not
    a stage condition: AWS documents what a failed action does to its stage, and how a function keeps an
    action running past its own timeout (continuation tokens), but not when a ``CloudWatchAlarm`` rule
    fails or how its ``WaitTime`` watches. One function serves every wave.

    Args:
        across_accounts: some region is in another account: the function's role gets a generated name,
            which those regions' reader roles trust. Default ``False``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, across_accounts: bool = False) -> None:
        super().__init__(scope, construct_id)
        self.role, self.function = job_function(
            self,
            handler="bake_wave.on_job",
            role_description="Watches each production wave's deployment alarms during its bake",
            description="Fails a wave's stage when one of its deployment alarms fires during the bake",
            across_accounts=across_accounts,
        )
        self._scoped: dict[str, str] = {}  # a wildcard resource the role is granted -> why

    def action(
        self,
        *,
        name: str,
        regions: Sequence[BakedRegion],
        minutes: int,
        run_order: int,
        role: iam.IRole,
    ) -> codepipeline.IAction:
        """The action that bakes ``regions`` for ``minutes``, after the rest of their stage (``run_order``)."""
        account = Stack.of(self).account
        for region in regions:
            if region.reader_role is not None:
                region.reader_role.allow_bake_reads(
                    deployment_group_arn=region.grant_arn if region.deployment_group else None
                )
                region.reader_role.trust(self.role)
                self.role.add_to_policy(
                    iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[region.reader_role.role_arn])
                )
                continue
            alarms = f"arn:aws:cloudwatch:{region.region}:{account}:alarm:*"
            self.role.add_to_policy(
                iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=[alarms])
            )
            if region.deployment_group:
                reads = iam.PolicyStatement(
                    actions=["codedeploy:GetDeploymentGroup"], resources=[region.grant_arn]
                )
            else:
                service = f"arn:aws:ecs:{region.region}:{account}:service/*"
                reads = iam.PolicyStatement(
                    actions=["ecs:DescribeServices"],
                    resources=[service],
                    conditions={"ArnEquals": {"ecs:cluster": region.grant_arn}},
                )
                self._scoped[service] = (
                    "Read-only: DescribeServices on the services of the app's clusters only (ecs:cluster "
                    "condition), for the alarms their deployments watch."
                )
            self.role.add_to_policy(reads)
            self._scoped[alarms] = (
                "Read-only: the states of the region's alarms; the deployment alarms have generated names, "
                "found at run time from the deployment that watches them."
            )
        acknowledge_all(
            role,
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "CDK's LambdaInvokeAction grants lambda:ListFunctions, which supports no resource-level "
                    "permissions; it invokes only the bake function.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{arn_of(self.function)}:*]",
                    "CDK's LambdaInvokeAction grant: the bake function and its versions only.",
                ),
            ],
        )
        stack = Stack.of(self)
        return actions.LambdaInvokeAction(
            action_name=name,
            lambda_=self.function,
            user_parameters_string=stack.to_json_string(
                {"minutes": minutes, "regions": [r.as_parameter() for r in regions]}
            ),
            run_order=run_order,
            role=role,
        )

    def finish(self) -> None:
        """Acknowledge the function's findings, once every action is added."""
        acknowledge_all(
            self.role,
            [
                *((f"AwsSolutions-IAM5[Resource::{arn}]", why) for arn, why in self._scoped.items()),
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "CodePipeline's PutJobSuccessResult and PutJobFailureResult support no resource-level "
                    "permissions (CDK's LambdaInvokeAction grants them).",
                ),
            ],
        )
