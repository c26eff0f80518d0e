"""The pipeline's wait for each wave's ECS service deployments to end, decided from ECS's own answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, PhysicalName, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.engines.lifecycle_hook import release_function
from constructs.nag_acknowledgments import (
    S3_READ_ACTIONS,
    acknowledge_all,
    arn_of,
    artifact_grant_findings,
)
from constructs.pipeline.release_reader_role import ReleaseReaderRole
from constructs.settings.retention import log_group

# release/hooks/await_deployments.py looks for at most 10 minutes per invocation, then hands CodePipeline
# a continuation token: the function needs a little more than that.
FUNCTION_TIMEOUT = Duration.minutes(12)


@dataclass(frozen=True, kw_only=True)
class AwaitedRegion:
    """One region whose service deployment a wave waits for.

    Attributes:
        region: where the service runs.
        cluster: its cluster's name.
        cluster_arn: its cluster's ARN.
        service: its service's name.
        image_file: the build output's imagedefinitions file for it (this release's image).
        reader_role: in another account than the pipeline's, the role the
            function assumes to read the service there. Default none.
    """

    region: str
    cluster: str
    cluster_arn: str
    service: str
    image_file: str
    reader_role: ReleaseReaderRole | None = None

    def as_parameter(self) -> dict[str, str]:
        return {
            "region": self.region,
            "cluster": self.cluster,
            "service": self.service,
            "file": self.image_file,
            **({"reader_role_arn": self.reader_role.role_arn} if self.reader_role else {}),
        }


class AwaitedDeployments(Construct):
    """A Lambda invoke action per wave that waits until every region of the wave ends its ECS deployment.

    AWS does not document what CodePipeline's ECS action waits for during
    an ECS blue/green deployment (hooks, traffic steps, bake time) or how it
    reports a rollback, so nothing here relies on it: after a wave's ECS
    actions, :meth:`action` runs ``release/hooks/await_deployments.py``, which
    asks each region's service for its current deployment
    (``DescribeServices``, ``DescribeServiceDeployments``) and fails the stage
    unless it ended ``SUCCESSFUL`` with the release's image; the stage then
    rolls every region back. One function serves every wave; its role may
    describe the services of the clusters it is given (:meth:`finish`), and
    assumes a region's reader role where the region is in another account.

    Args:
        across_accounts: some region is in another account: the function's
            role gets a generated name, which those regions' reader roles trust. Default ``False``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, across_accounts: bool = False) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            role_name=PhysicalName.GENERATE_IF_NEEDED if across_accounts else None,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Waits for each wave's ECS service deployments to end",
        )
        logs = log_group(self, "Logs")
        logs.grant_write(self.role)
        self.function = release_function(
            self,
            description="Waits until every region of a wave has ended its ECS service deployment",
            handler="await_deployments.on_job",
            timeout=FUNCTION_TIMEOUT,
            role=self.role,
            log_group=logs,
        )
        # No resource type in the Service Authorization Reference: evaluated on "*".
        self.role.add_to_policy(iam.PolicyStatement(actions=["ecs:DescribeTaskDefinition"], resources=["*"]))
        self._clusters: list[str] = []

    def action(
        self,
        *,
        name: str,
        regions: Sequence[AwaitedRegion],
        build_output: codepipeline.Artifact,
        run_order: int,
        role: iam.IRole,
        artifact_objects: str,
    ) -> codepipeline.IAction:
        """The action that waits for ``regions``' deployments, after the wave's ECS actions (``run_order``)."""
        self._clusters += [
            region.cluster_arn
            for region in regions
            if region.reader_role is None and region.cluster_arn not in self._clusters
        ]
        for region in regions:
            if region.reader_role is not None:
                region.reader_role.trust(self.role)
                self.role.add_to_policy(
                    iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[region.reader_role.role_arn])
                )
        acknowledge_all(
            role,
            [
                *artifact_grant_findings(S3_READ_ACTIONS, (), (artifact_objects,)),
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "CDK's LambdaInvokeAction grants lambda:ListFunctions, which supports no resource-level "
                    "permissions; it invokes only the waiting function.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{arn_of(self.function)}:*]",
                    "CDK's LambdaInvokeAction grant: the waiting function and its versions only.",
                ),
            ],
        )
        return actions.LambdaInvokeAction(
            action_name=name,
            lambda_=self.function,
            inputs=[build_output],
            user_parameters_string=Stack.of(self).to_json_string([r.as_parameter() for r in regions]),
            run_order=run_order,
            role=role,
        )

    def finish(self) -> None:
        """Let the function read the services of every action (once all are added), and acknowledge its findings.

        One statement for every region, by cluster (the ``ecs:cluster`` condition): the home region's
        names are references to its stack, and a statement per region would outgrow IAM's inline policy
        limit at 30 regions.
        """
        if not self._clusters:  # every region in another account: read through its reader role
            self._acknowledge_findings(())
            return
        account = Stack.of(self).account
        kinds = ("service", "service-deployment", "service-revision")
        scoped = [f"arn:aws:ecs:*:{account}:{kind}/*" for kind in kinds]
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ecs:DescribeServices",
                    "ecs:DescribeServiceDeployments",
                    "ecs:DescribeServiceRevisions",
                ],
                resources=scoped,
                conditions={"ArnEquals": {"ecs:cluster": self._clusters}},
            )
        )
        self._acknowledge_findings(scoped)

    def _acknowledge_findings(self, scoped: Sequence[str]) -> None:
        acknowledge_all(
            self.role,
            [
                *(
                    (
                        f"AwsSolutions-IAM5[Resource::{arn}]",
                        "Read-only ECS calls on the services of the app's clusters only (ecs:cluster condition), "
                        "and on the deployments and revisions ECS creates for them with generated IDs.",
                    )
                    for arn in scoped
                ),
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "ecs:DescribeTaskDefinition and CodePipeline's PutJobSuccessResult/PutJobFailureResult "
                    "support no resource-level permissions (CDK's LambdaInvokeAction grants the latter).",
                ),
            ],
        )
