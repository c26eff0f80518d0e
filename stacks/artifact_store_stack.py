"""The pipeline's artifact store in one region, for deploy actions in other accounts."""

from __future__ import annotations

from aws_cdk import Environment, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.pipeline.deploy_action_role import DeployActionRole
from constructs.region.buckets import ARTIFACT_RETENTION_DAYS, access_log_bucket, artifact_key, private_bucket
from constructs.settings.feature_flags import pin_feature_flags
from constructs.settings.retention import SECURITY_LOG_RETENTION_DAYS


class ArtifactStoreStack(Stack):
    """The release pipeline's artifact bucket in a region whose deploy actions run in another account.

    It lives in the pipeline's account (CodePipeline replicates each stage's
    input artifacts into one store per region, with its own role), in the
    region it serves. The bucket is encrypted with a customer-managed key
    (alias ``alias/<stack name>``), since the AWS-managed ``aws/s3`` key cannot
    be used from another account; the pipeline names the key by its ARN (a
    reference across regions), as CodePipeline requires where actions of
    other accounts use the store ("For cross-account actions, you can only use
    the key ID or key ARN", EncryptionKey in the CodePipeline API reference). The deploy action roles of the
    region's stacks are granted read access in the bucket and key policies
    when the pipeline binds its actions (their account, with their ARNs in an
    ``aws:PrincipalArn`` condition); this stack deploys after those stacks
    (:meth:`serve`), so that a release never finds its store before its readers.

    A stack of the pipeline's account in that region has no deploy action role
    of its own: it uses this stack's (``deploy_action_role``), since a role in
    that stack would name the bucket and key of this one, which names the role.

    Args:
        env: the pipeline's account and the region served; both explicit.
        deploy_action_role: hold the deploy action role of the region's stacks
            in the pipeline's account. Default ``False``.
        security_log_retention_days: days the bucket's access logs are kept. Default ``365``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: Environment,
        stack_name: str,
        deploy_action_role: bool = False,
        security_log_retention_days: int = SECURITY_LOG_RETENTION_DAYS,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id, env=env, stack_name=stack_name, description=description)
        pin_feature_flags(self)
        self.key = artifact_key(self, "ArtifactsKey")
        self.alias = kms.Alias(
            self, "ArtifactsKeyAlias", alias_name=f"alias/{stack_name}", target_key=self.key
        )
        self.access_logs = access_log_bucket(self, "AccessLogs", retention_days=security_log_retention_days)
        self.bucket: s3.Bucket = private_bucket(
            self,
            "Artifacts",
            access_logs=self.access_logs,
            encryption_key=self.key,
            generated_name=True,
            expiration_days=ARTIFACT_RETENTION_DAYS,
        )
        self.deploy_action_role: DeployActionRole | None = None
        if deploy_action_role:
            self.deploy_action_role = DeployActionRole.trusting_pipeline(
                self, "PipelineDeployActionRole", pipeline_account=self.account
            )

    def serve(self, stack: Stack) -> None:
        """Deploy after ``stack``, whose deploy action role the bucket and key policies name, or whose
        resources this stack's deploy action role names."""
        self.add_stack_dependency(stack, "the artifact bucket and key policies name its deploy action role")
