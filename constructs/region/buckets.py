"""S3 buckets with the project's baseline: private, TLS only, encrypted, access-logged."""

from __future__ import annotations

from aws_cdk import Duration, PhysicalName, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct, IConstruct
from constructs.nag_acknowledgments import acknowledge
from constructs.settings.retention import RETAINED, SECURITY_LOG_RETENTION_DAYS

# Pipeline artifacts are kept longer than CodePipeline keeps its history ("Pipeline history is limited to the
# most recent 12 months": ListPipelineExecutions), since a stage rolls back only to a successful execution of
# that history and with that execution's artifacts (CodePipeline user guide, "Configure stage rollback").
ARTIFACT_RETENTION_DAYS = 400


def access_log_bucket(
    scope: Construct, construct_id: str, *, retention_days: int = SECURITY_LOG_RETENTION_DAYS
) -> s3.Bucket:
    """Where S3 server access logs and load balancer access logs of one stack go.

    SSE-S3 encrypted because both log deliveries require it; objects expire
    after ``retention_days`` (default a year). cdk-nag accepts a bucket without access logs of its own when
    it is the access-log destination of another bucket; otherwise
    ``acknowledge_self_logging`` records why it logs nowhere.

    The one resource kept with plain ``Retain``: services write into it while
    its stack is still being created (a load balancer's ``ELBAccessLogTestFile``
    as soon as logging is on, https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html;
    S3's log delivery for the other buckets), so a rolled-back
    first create could not delete it and the rollback itself would fail. It
    has no fixed name, so a retry creates a new one.
    """
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention_days))],
        removal_policy=RemovalPolicy.RETAIN,
    )
    return bucket


def acknowledge_self_logging(bucket: s3.IBucket) -> None:
    """The access-log bucket that only receives load balancer logs has no access log of its own."""
    acknowledge(
        bucket,
        "AwsSolutions-S1",
        "This bucket is the access-log destination of its stack (load balancer logs); logging it into "
        "itself would loop.",
    )


def private_bucket(
    scope: Construct,
    construct_id: str,
    *,
    access_logs: s3.IBucket,
    encryption_key: kms.IKey | None = None,
    kms_managed: bool = False,
    versioned: bool = False,
    generated_name: bool = False,
    expiration_days: int | None = None,
) -> s3.Bucket:
    """A private, TLS-only bucket that logs access to ``access_logs``.

    Encrypted with ``encryption_key`` when given, else with ``kms`` (the
    account's AWS-managed ``aws/s3`` key, rotated by AWS every year), else SSE-S3.
    ``generated_name`` gives it a name, generated at synth, that other
    regions can refer to. Noncurrent versions expire after 90 days; objects
    after ``expiration_days`` when given (default never). Kept when the stack
    is deleted, deleted when its own create is rolled back (``RETAINED``).
    Roles of other accounts it is granted to are named by ARN in a condition
    (:func:`naming_roles_by_arn`).
    """
    return _PrivateBucket(
        scope,
        construct_id,
        bucket_name=PhysicalName.GENERATE_IF_NEEDED if generated_name else None,
        encryption=s3.BucketEncryption.KMS
        if encryption_key
        else (s3.BucketEncryption.KMS_MANAGED if kms_managed else s3.BucketEncryption.S3_MANAGED),
        encryption_key=encryption_key,
        bucket_key_enabled=bool(encryption_key),
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=versioned,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=f"{construct_id}/",
        lifecycle_rules=[
            *([s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))] if versioned else []),
            *([s3.LifecycleRule(expiration=Duration.days(expiration_days))] if expiration_days else []),
        ]
        or None,
        removal_policy=RETAINED,
    )


def naming_roles_by_arn(owner: IConstruct, statement: iam.PolicyStatement) -> iam.PolicyStatement:
    """``statement`` of a resource policy, with roles of another account named by ARN in a condition.

    CDK writes a grant to a role of another account as that role's principal. S3 and KMS store such a
    principal as the role's unique ID, so a role deleted and created again (its regional stack replaced)
    would lose the grant until the policy is written again, and they refuse a role that does not exist yet.
    The role's account with ``aws:PrincipalArn`` allows the same requests, and neither happens.
    """
    roles = statement.principals
    account = Stack.of(owner).account
    if not roles or not all(isinstance(r, iam.Role) and Stack.of(r).account != account for r in roles):
        return statement
    accounts = {Stack.of(r).account for r in roles}
    if len(accounts) != 1:
        return statement
    return iam.PolicyStatement(
        effect=statement.effect,
        actions=statement.actions,
        resources=statement.resources,
        principals=[iam.AccountPrincipal(accounts.pop())],
        conditions={
            **statement.conditions,
            "ArnEquals": {
                **statement.conditions.get("ArnEquals", {}),
                "aws:PrincipalArn": [r.role_arn for r in roles],
            },
        },
    )


class _PrivateBucket(s3.Bucket):
    """A bucket whose grants to roles of other accounts name them by ARN (:func:`naming_roles_by_arn`)."""

    def add_to_resource_policy(self, permission: iam.PolicyStatement) -> iam.AddToResourcePolicyResult:
        return super().add_to_resource_policy(naming_roles_by_arn(self, permission))


class _ArtifactKey(kms.Key):
    """A key whose grants to roles of other accounts name them by ARN (:func:`naming_roles_by_arn`)."""

    def add_to_resource_policy(
        self, statement: iam.PolicyStatement, allow_no_op: bool | None = None
    ) -> iam.AddToResourcePolicyResult:
        return super().add_to_resource_policy(naming_roles_by_arn(self, statement), allow_no_op)


def artifact_key(scope: Construct, construct_id: str) -> kms.Key:
    """A customer-managed KMS key with yearly rotation for the pipeline's artifacts."""
    return _ArtifactKey(
        scope,
        construct_id,
        enable_key_rotation=True,
        description="Encrypts release pipeline artifacts",
        removal_policy=RETAINED,
    )
