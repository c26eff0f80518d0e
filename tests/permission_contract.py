"""The release-time permission contract: every AWS call each actor makes, and the document that says so.

The rows are data: an IAM action, the resource it is evaluated on (a name
each actor maps to an ARN of the synthesized app, or ``*`` where the Service
Authorization Reference lists no resource type) and the AWS document the row
comes from. ``release_actors`` turns them into the concrete requests of one
synthesized app; the tests ask the IAM simulator to decide each with the
caller's synthesized policies and the resource's own policy (bucket policy,
key policy, trust policy). The build step's own calls (``aws``/``docker``
in the buildspec) are authorized call by call in tests/test_release_build.py.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from cfn_resolver import Resolver
from fakes.iam_client import Caller
from iam_policies import bucket_policy, caller, trust_policy
from release_build import build_variables
from template_queries import only, pipeline_stages, props, resources, service_task_definition

from constructs.settings.database_settings import APP_USER, MASTER_USER

# --- the AWS documents the rows come from --------------------------------------------------

DOCS = "https://docs.aws.amazon.com"
PIPELINE_SERVICE_ROLE = f"{DOCS}/codepipeline/latest/userguide/how-to-custom-role.html"
CROSS_REGION_ARTIFACTS = f"{DOCS}/codepipeline/latest/userguide/actions-create-cross-region.html"
ACTION_ROLE = (
    f"{DOCS}/AWSCloudFormation/latest/UserGuide/aws-properties-codepipeline-pipeline-actiondeclaration.html"
)
S3_SOURCE_ACTION = f"{DOCS}/codepipeline/latest/userguide/action-reference-S3.html#edit-role-s3source"
CONNECTION_SOURCE_ACTION = f"{DOCS}/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html#edit-role-connections"
CONNECTIONS_RENAME = f"{DOCS}/dtconsole/latest/userguide/rename.html"
S3_SOURCE_EVENTS = f"{DOCS}/codepipeline/latest/userguide/create-cloudtrail-S3-source-console.html"
CODEBUILD_ACTION = f"{DOCS}/codepipeline/latest/userguide/action-reference-CodeBuild.html#edit-role-codebuild"
CODEBUILD_SERVICE_ROLE = f"{DOCS}/codebuild/latest/userguide/setting-up-service-role.html"
ECS_DEPLOY_ACTION = (
    f"{DOCS}/codepipeline/latest/userguide/action-reference-ECSbluegreen.html#edit-role-codedeploy-ecs"
)
CODEDEPLOY_ECS_ROLE = f"{DOCS}/AmazonECS/latest/developerguide/codedeploy_IAM_role.html"
ECS_HOOKS = (
    f"{DOCS}/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-ecs"
)
CODEDEPLOY_ACTIONS = f"{DOCS}/service-authorization/latest/reference/list_awscodedeploy.html"
LAMBDA_VPC = f"{DOCS}/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions"
LAMBDA_LOGS = f"{DOCS}/lambda/latest/dg/monitoring-cloudwatchlogs.html"
TASK_EXECUTION_ROLE = f"{DOCS}/AmazonECS/latest/developerguide/task_execution_IAM_role.html"
ECS_ACTIONS = f"{DOCS}/service-authorization/latest/reference/list_amazonelasticcontainerservice.html"
RUN_TASK_ROLES = f"{DOCS}/AmazonECS/latest/developerguide/task-iam-roles.html"
SECRET_KEY = f"{DOCS}/secretsmanager/latest/userguide/security-encryption.html"
ECS_STANDARD_ACTION = f"{DOCS}/codepipeline/latest/userguide/action-reference-ECS.html#edit-role-ecs"
ECS_LOAD_BALANCER_ROLE = (
    f"{DOCS}/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html"
)
ECS_HOOK_INVOKE = f"{DOCS}/AmazonECS/latest/developerguide/blue-green-permissions.html"
SSE_KMS = f"{DOCS}/AmazonS3/latest/userguide/UsingKMSEncryption.html"
TRUST = f"{DOCS}/IAM/latest/UserGuide/reference_policies_elements_principal.html"
PASS_ROLE = f"{DOCS}/IAM/latest/UserGuide/id_roles_use_passrole.html"
LAMBDA_INVOKE_ACTION = f"{DOCS}/codepipeline/latest/userguide/action-reference-Lambda.html"
CODEPIPELINE_ACTIONS = f"{DOCS}/service-authorization/latest/reference/list_awscodepipeline.html"
ELB_ACTIONS = f"{DOCS}/service-authorization/latest/reference/list_awselasticloadbalancingv2.html"
RDS_ACTIONS = f"{DOCS}/service-authorization/latest/reference/list_amazonrds.html"
CFN_ACTIONS = f"{DOCS}/service-authorization/latest/reference/list_awscloudformation.html"
RDS_IAM_AUTH = f"{DOCS}/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html"

ECS_TASKS = "ecs-tasks.amazonaws.com"
AWS_MANAGED_KEYS = Path(__file__).resolve().parent / "iam" / "aws_managed_keys"


@dataclass(frozen=True)
class Row:
    """One call: ``action`` on the actor's resource named ``resource`` (``*``: none), per ``source``."""

    action: str
    resource: str
    source: str
    context: tuple[tuple[str, str], ...] = ()


def rows(
    actions: tuple[str, ...], resource: str, source: str, context: tuple[tuple[str, str], ...] = ()
) -> tuple[Row, ...]:
    return tuple(Row(a, resource, source, context) for a in actions)


PASSED_TO_ECS_TASKS = (("iam:PassedToService", ECS_TASKS),)


def passes_task_roles(source: str) -> tuple[Row, ...]:
    """``iam:PassRole`` of the service's task and execution roles to ECS tasks."""
    return tuple(
        Row("iam:PassRole", role, source, PASSED_TO_ECS_TASKS) for role in ("task_role", "execution_role")
    )


# What CodePipeline does with each region's artifact store (the pipeline's role).
ARTIFACT_STORE = (
    *rows(
        ("s3:GetBucketVersioning", "s3:GetBucketAcl", "s3:GetBucketLocation"), "bucket", PIPELINE_SERVICE_ROLE
    ),
    *rows(("s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"), "object", CROSS_REGION_ARTIFACTS),
    *rows(("kms:GenerateDataKey", "kms:Decrypt"), "key", SSE_KMS),
)
WRITES_ARTIFACTS = (
    Row("s3:PutObject", "object", PIPELINE_SERVICE_ROLE),
    Row("kms:GenerateDataKey", "key", SSE_KMS),
)
READS_ARTIFACTS = (
    *rows(("s3:GetObject", "s3:GetObjectVersion"), "object", PIPELINE_SERVICE_ROLE),
    Row("kms:Decrypt", "key", SSE_KMS),
)
S3_SOURCE = (
    *rows(
        ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
        "source_object",
        S3_SOURCE_ACTION,
    ),
    *rows(
        ("s3:GetBucketVersioning", "s3:GetBucketAcl", "s3:GetBucketLocation"),
        "source_bucket",
        S3_SOURCE_ACTION,
    ),
)
CONNECTION_SOURCE = (Row("{prefix}:UseConnection", "connection", CONNECTION_SOURCE_ACTION),)
EVENTS = (Row("codepipeline:StartPipelineExecution", "pipeline", S3_SOURCE_EVENTS),)
BUILD_ACTION = rows(("codebuild:StartBuild", "codebuild:BatchGetBuilds"), "project", CODEBUILD_ACTION)
BUILD_ROLE = (
    *rows(("logs:CreateLogStream", "logs:PutLogEvents"), "log_stream", CODEBUILD_SERVICE_ROLE),
    *rows(("s3:GetBucketAcl", "s3:GetBucketLocation"), "bucket", CODEBUILD_SERVICE_ROLE),
)
DEPLOY_ACTION = (
    *rows(("codedeploy:CreateDeployment", "codedeploy:GetDeployment"), "deployment_group", ECS_DEPLOY_ACTION),
    *rows(
        (
            "codedeploy:GetApplication",
            "codedeploy:GetApplicationRevision",
            "codedeploy:RegisterApplicationRevision",
        ),
        "application",
        ECS_DEPLOY_ACTION,
    ),
    Row("codedeploy:GetDeploymentConfig", "deployment_config", ECS_DEPLOY_ACTION),
    Row("ecs:RegisterTaskDefinition", "next_task_definition", ECS_DEPLOY_ACTION),
    *passes_task_roles(ECS_DEPLOY_ACTION),
)
CODEDEPLOY_SERVICE_ROLE = (
    *rows(("ecs:DescribeServices", "ecs:UpdateServicePrimaryTaskSet"), "service", CODEDEPLOY_ECS_ROLE),
    *rows(("ecs:CreateTaskSet", "ecs:DeleteTaskSet"), "task_set", CODEDEPLOY_ECS_ROLE),
    *rows(
        (
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeRules",
        ),
        "*",
        CODEDEPLOY_ECS_ROLE,
    ),
    Row("elasticloadbalancing:ModifyListener", "production_listener", CODEDEPLOY_ECS_ROLE),
    Row("elasticloadbalancing:ModifyListener", "test_listener", CODEDEPLOY_ECS_ROLE),
    Row("elasticloadbalancing:ModifyRule", "listener_rule", CODEDEPLOY_ECS_ROLE),
    *passes_task_roles(CODEDEPLOY_ECS_ROLE),
)
READS_ALARM = (Row("cloudwatch:DescribeAlarms", "alarm", CODEDEPLOY_ECS_ROLE),)
INVOKES_HOOK = (Row("lambda:InvokeFunction", "hook", ECS_HOOKS),)
LOGS = rows(("logs:CreateLogStream", "logs:PutLogEvents"), "log_stream", LAMBDA_LOGS)
# The test-traffic hook (release/hooks/test_traffic.py): a function in the VPC.
LAMBDA_IN_VPC = (
    *LOGS,
    Row("ec2:DescribeNetworkInterfaces", "*", LAMBDA_VPC),
    *rows(
        (
            "ec2:CreateNetworkInterface",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ),
        "network_interface",
        LAMBDA_VPC,
    ),
)
HOOK_ROLE = (
    # No resource type in the Service Authorization Reference: IAM evaluates it on "*".
    Row("codedeploy:PutLifecycleEventHookExecutionStatus", "*", CODEDEPLOY_ACTIONS),
    *LAMBDA_IN_VPC,
)
# The migration signs in as the master user: the hook reads the green task definition, registers it as a
# revision of the migration's own family with the master credentials and the migration's execution role, runs
# one task of it on the service's cluster (passing the service's task role and that execution role), waits,
# stops it on timeout and deregisters the revision.
RUNS_MIGRATION = (
    # No resource type in the Service Authorization Reference for these two: evaluated on "*".
    *rows(("ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition"), "*", ECS_ACTIONS),
    *rows(("ecs:RegisterTaskDefinition", "ecs:RunTask"), "migration_task_definition", ECS_ACTIONS),
    *(
        Row("iam:PassRole", role, RUN_TASK_ROLES, PASSED_TO_ECS_TASKS)
        for role in ("task_role", "migration_execution_role")
    ),
    *rows(("ecs:DescribeTasks", "ecs:StopTask"), "task", ECS_ACTIONS),
)
# The schema migration hook (release/hooks/run_migration.py): finds the green task set, runs the migration of
# its task definition (above), waits for it, reports to CodeDeploy.
MIGRATION_HOOK_ROLE = (
    # No resource type in the Service Authorization Reference for these: evaluated on "*".
    *rows(
        (
            "codedeploy:ListDeploymentTargets",
            "codedeploy:GetDeploymentTarget",
            "codedeploy:PutLifecycleEventHookExecutionStatus",
        ),
        "*",
        CODEDEPLOY_ACTIONS,
    ),
    *LOGS,
    Row("ecs:DescribeTaskSets", "task_set", ECS_ACTIONS),
    *RUNS_MIGRATION,
)
HOOK_ROLES = {"AfterAllowTestTraffic": HOOK_ROLE, "AfterInstall": MIGRATION_HOOK_ROLE}

# --- the ECS engine ---
# CodePipeline's ECS action: registers the next revision of the service's task definition with the
# released image (tagging it when tagging authorization is on) and updates the service.
ECS_DEPLOY_ACTION = (
    *rows(("ecs:DescribeServices", "ecs:UpdateService"), "service", ECS_STANDARD_ACTION),
    Row("ecs:DescribeTaskDefinition", "*", ECS_STANDARD_ACTION),
    Row("ecs:RegisterTaskDefinition", "next_task_definition", ECS_STANDARD_ACTION),
    Row(
        "ecs:TagResource",
        "next_task_definition",
        ECS_STANDARD_ACTION,
        (("ecs:CreateAction", "RegisterTaskDefinition"),),
    ),
    *passes_task_roles(ECS_STANDARD_ACTION),
)
# ECS's infrastructure role for the load balancer: re-weights the listener rules, registers green's targets.
LOAD_BALANCER_ROLE = (
    *rows(
        (
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetHealth",
        ),
        "*",
        ECS_LOAD_BALANCER_ROLE,
    ),
    *(
        Row(action, group, ECS_LOAD_BALANCER_ROLE)
        for action in ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets")
        for group in ("blue_target_group", "green_target_group")
    ),
    *rows(("elasticloadbalancing:ModifyRule",), "production_rule", ECS_LOAD_BALANCER_ROLE),
    *rows(("elasticloadbalancing:ModifyRule",), "test_rule", ECS_LOAD_BALANCER_ROLE),
)
ECS_INVOKES_HOOK = (Row("lambda:InvokeFunction", "hook", ECS_HOOK_INVOKE),)
# Evaluated on the service and on the revision (both resource types are required).
DESCRIBES_REVISION = rows(("ecs:DescribeServiceRevisions",), "service", ECS_ACTIONS) + rows(
    ("ecs:DescribeServiceRevisions",), "service_revision", ECS_ACTIONS
)
# Every ECS hook first asks whether the deployment creates the service.
ASKS_FIRST_DEPLOYMENT = rows(("ecs:DescribeServiceDeployments",), "service", ECS_ACTIONS) + rows(
    ("ecs:DescribeServiceDeployments",), "service_deployment", ECS_ACTIONS
)
ECS_TEST_HOOK_ROLE = (*LAMBDA_IN_VPC, *ASKS_FIRST_DEPLOYMENT)
ECS_MIGRATION_HOOK_ROLE = (*LOGS, *ASKS_FIRST_DEPLOYMENT, *DESCRIBES_REVISION, *RUNS_MIGRATION)
ECS_HOOK_ROLES = {"POST_TEST_TRAFFIC_SHIFT": ECS_TEST_HOOK_ROLE, "POST_SCALE_UP": ECS_MIGRATION_HOOK_ROLE}
# The released-image resource (release/hooks/released_image.py): which task definition the cluster's service
# serves (its current deployment's revision), and that task definition's image.
READS_SERVED_IMAGE = (
    *LOGS,
    Row("ecs:ListServices", "any_in_cluster", ECS_ACTIONS),
    Row("ecs:DescribeServices", "service", ECS_ACTIONS),
    *ASKS_FIRST_DEPLOYMENT,
    *DESCRIBES_REVISION,
    Row("ecs:DescribeTaskDefinition", "*", ECS_ACTIONS),
)
# The ECS engine's wait for each wave (release/hooks/await_deployments.py): CodePipeline invokes the function
# with the action's role, which also reads the build output (the job's artifact credentials are its own).
INVOKES_WAIT = (Row("lambda:InvokeFunction", "function", LAMBDA_INVOKE_ACTION),)
# The function: each region's service, its current deployment and that deployment's revision, the revision's
# task definition; then the job's result (no resource type: "*").
AWAITS_DEPLOYMENTS = (
    *LOGS,
    Row("ecs:DescribeServices", "service", ECS_ACTIONS),
    *ASKS_FIRST_DEPLOYMENT,
    *DESCRIBES_REVISION,
    Row("ecs:DescribeTaskDefinition", "*", ECS_ACTIONS),
    *rows(
        ("codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"), "*", CODEPIPELINE_ACTIONS
    ),
)
# A region in another account: ECS has no resource policies, so the wait assumes the region's reader role
# (IAM user guide, "Cross account resource access in IAM": a role in the account that owns the resource).
CROSS_ACCOUNT_ROLE = f"{DOCS}/IAM/latest/UserGuide/access_policies-cross-account-resource-access.html"
AWAITS_ACROSS_ACCOUNTS = (
    *LOGS,
    Row("sts:AssumeRole", "reader_role", CROSS_ACCOUNT_ROLE),
    *rows(
        ("codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"), "*", CODEPIPELINE_ACTIONS
    ),
)
READS_AWAITED_SERVICE = tuple(
    r for r in AWAITS_DEPLOYMENTS if r not in AWAITS_ACROSS_ACCOUNTS and r not in LOGS
)
# The deletion-protection resource (release/hooks/protect_after_create.py): protection on after the create,
# off while a failed create rolls back (it asks the stack's status first).
PROTECTS = (*LOGS, Row("cloudformation:DescribeStacks", "stack", CFN_ACTIONS))
PROTECTS_LOAD_BALANCER = (Row("elasticloadbalancing:ModifyLoadBalancerAttributes", "protected", ELB_ACTIONS),)
PROTECTS_DATABASE = (Row("rds:ModifyDBCluster", "protected", RDS_ACTIONS),)
PULLS_IMAGE = (
    Row("ecr:GetAuthorizationToken", "*", TASK_EXECUTION_ROLE),
    *rows(
        ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"),
        "repository",
        TASK_EXECUTION_ROLE,
    ),
    *rows(("logs:CreateLogStream", "logs:PutLogEvents"), "log_stream", TASK_EXECUTION_ROLE),
)
READS_SECRET = {
    "secretsmanager": Row("secretsmanager:GetSecretValue", "secret", TASK_EXECUTION_ROLE),
    "ssm": Row("ssm:GetParameters", "secret", TASK_EXECUTION_ROLE),
}
# A secret encrypted with a customer-managed key (the database's): Secrets Manager decrypts it for the caller.
DECRYPTS_SECRET = (Row("kms:Decrypt", "key", SECRET_KEY),)
# The master credentials, which ECS reads for the migration's and the database setup's tasks only.
READS_MASTER_SECRET = (READS_SECRET["secretsmanager"], *DECRYPTS_SECRET)
# The service's tasks sign in to the database as its own role with an IAM authentication token.
SIGNS_IN = (Row("rds-db:connect", "database_user", RDS_IAM_AUTH),)
# The database setup resource (release/hooks/database_users.py): one task of its own family on the service's
# cluster, waited for and stopped on timeout.
RUNS_DATABASE_SETUP = (
    *LOGS,
    Row("ecs:RunTask", "setup_task_definition", ECS_ACTIONS),
    *(
        Row("iam:PassRole", role, RUN_TASK_ROLES, PASSED_TO_ECS_TASKS)
        for role in ("setup_task_role", "setup_execution_role")
    ),
    *rows(("ecs:DescribeTasks", "ecs:StopTask"), "task", ECS_ACTIONS),
)

# Services that assume the app's roles; each role must trust exactly its own.
SERVICES = (
    "codepipeline.amazonaws.com",
    "codebuild.amazonaws.com",
    "codedeploy.amazonaws.com",
    "ecs.amazonaws.com",
    "events.amazonaws.com",
    "lambda.amazonaws.com",
    ECS_TASKS,
    "vpc-flow-logs.amazonaws.com",
    "ec2.amazonaws.com",
    "states.amazonaws.com",
)


@dataclass(frozen=True)
class Resource:
    """What a request names: the ARN IAM evaluates, the resource's own policy, and request context."""

    arn: str
    policy: dict | None = None
    context: tuple[tuple[str, str], ...] = ()
    account: str | None = None

    @property
    def owner(self) -> str | None:
        """The account that owns the resource: given, else the ARN's (an S3 ARN names none), else the caller's."""
        return self.account or (self.arn.split(":")[4] if self.arn.count(":") >= 5 else None) or None


@dataclass(frozen=True)
class Request:
    """One concrete request an actor makes, and what the contract expects of it."""

    actor: str
    caller: Caller
    action: str
    resource: Resource
    source: str
    context: dict[str, str] = field(default_factory=dict)
    allowed: bool = True

    def describe(self) -> str:
        verdict = "may" if self.allowed else "must not"
        return f"{self.actor} {verdict} {self.action} on {self.resource.arn} ({self.source})"


def stand_in_id(*parts: str, length: int = 16) -> str:
    """A stable hex id for resources whose ids AWS assigns at deploy time."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def aws_managed_key_policy(service: str, account: str, region: str) -> dict:
    text = json.dumps(json.loads((AWS_MANAGED_KEYS / f"{service}.json").read_text())["document"])
    return json.loads(text.replace("ACCOUNT", account).replace("REGION", region))


class ReleaseApp:
    """The synthesized app seen as AWS will hold it: roles, resources and their policies, resolved."""

    def __init__(self, synthesized) -> None:
        self.synthesized = synthesized
        self.resolver = Resolver.from_synthesized(synthesized)
        self.pipeline_stack = f"{synthesized.config.app_name}-pipeline"
        self.account = synthesized.config.account
        self.home_region = synthesized.config.home_region
        self._callers: dict[tuple[str, str], Caller] = {}

    # --- lookups -----------------------------------------------------------------------

    def resolve(self, stack: str, value: object) -> object:
        return self.resolver.resolve(stack, value)

    def template(self, stack: str) -> dict:
        return self.resolver.stacks[stack].template

    def region_of(self, stack: str) -> str:
        return self.resolver.stacks[stack].region

    def account_of(self, stack: str) -> str:
        return self.resolver.stacks[stack].account

    def arn(self, stack: str, logical_id: str) -> str:
        return self.resolver.arn(self.resolver.stacks[stack], logical_id)

    def ref(self, stack: str, logical_id: str) -> str:
        return self.resolver.ref(self.resolver.stacks[stack], logical_id)

    def name(self, stack: str, logical_id: str) -> str:
        return self.resolver.physical_name(self.resolver.stacks[stack], logical_id)

    def find(self, resource_type: str, physical: str, *, as_arn: bool = False) -> tuple[str, str]:
        """(stack, logical id) of the resource whose name (or ARN) is ``physical``."""
        found = [
            (stack, lid)
            for stack in self.resolver.stacks
            for lid in resources(self.template(stack), resource_type)
            if (self.arn(stack, lid) if as_arn else self.ref(stack, lid)) == physical
        ]
        assert len(found) == 1, f"no single {resource_type} {physical}: {found}"
        return found[0]

    def caller(self, stack: str, role_id: str, session: str = "session") -> Caller:
        if (stack, role_id) not in self._callers:
            self._callers[stack, role_id] = caller(self.resolver, stack, role_id, session)
        return self._callers[stack, role_id]

    def caller_of_arn(self, role_arn: str) -> Caller:
        return self.caller(*self.find("AWS::IAM::Role", role_arn, as_arn=True))

    @property
    def pipeline(self) -> dict:
        return props(self.template(self.pipeline_stack), "AWS::CodePipeline::Pipeline")

    @property
    def pipeline_name(self) -> str:
        return self.ref(
            self.pipeline_stack, only(self.template(self.pipeline_stack), "AWS::CodePipeline::Pipeline")[0]
        )

    # --- resources ----------------------------------------------------------------------

    def artifact_store(self, region: str) -> dict[str, Resource]:
        """The bucket, an artifact object and the key of ``region``'s artifact store."""
        (store,) = [s for s in self.pipeline["ArtifactStores"] if s["Region"] == region]
        name = self.resolve(self.pipeline_stack, store["ArtifactStore"]["Location"])
        bucket_stack, bucket_id = self.find("AWS::S3::Bucket", name)
        policy = bucket_policy(self.resolver, bucket_stack, bucket_id)
        bucket = f"arn:aws:s3:::{name}"
        # kms:CallerAccount is the caller's: Request.expanded sets it.
        via_s3 = (("kms:ViaService", f"s3.{region}.amazonaws.com"), ("kms:CallerAccount", self.account))
        owner = self.account_of(bucket_stack)
        key = store["ArtifactStore"].get("EncryptionKey")
        if key:
            key_stack, key_id = self.key_named(self.resolve(self.pipeline_stack, key["Id"]))
            key_arn = self.arn(key_stack, key_id)
            key_policy = self.resolve(
                key_stack, self.template(key_stack)["Resources"][key_id]["Properties"]["KeyPolicy"]
            )
        else:  # CodePipeline uses the region's AWS managed key for S3
            key_arn = f"arn:aws:kms:{region}:{owner}:key/{stand_in_id('aws/s3', region)}"
            key_policy = aws_managed_key_policy("s3", owner, region)
        return {
            "bucket": Resource(bucket, policy, account=owner),
            "object": Resource(
                f"{bucket}/{self.pipeline_name[:20]}/build_outp/{stand_in_id(region, length=7)}",
                policy,
                account=owner,
            ),
            "key": Resource(key_arn, key_policy, via_s3),
        }

    def key_named(self, key_or_alias_arn: str) -> tuple[str, str]:
        """(stack, logical id) of the key an ARN names, directly or by an alias of the same app."""
        if ":alias/" not in key_or_alias_arn:
            return self.find("AWS::KMS::Key", key_or_alias_arn, as_arn=True)
        alias = key_or_alias_arn.split(":", 5)[5]
        (found,) = [
            (stack, r["Properties"]["TargetKeyId"]["Fn::GetAtt"][0])
            for stack in self.resolver.stacks
            for r in resources(self.template(stack), "AWS::KMS::Alias").values()
            if r["Properties"]["AliasName"] == alias
            and key_or_alias_arn.split(":")[3] == self.region_of(stack)
        ]
        return found

    def role_resource(self, role_arn: str) -> Resource:
        """A role as the resource of ``sts:AssumeRole``: its trust policy decides."""
        stack, role_id = self.find("AWS::IAM::Role", role_arn, as_arn=True)
        return Resource(role_arn, trust_policy(self.resolver, stack, role_id))

    def log_stream(self, stack: str, group: object) -> Resource:
        name = self.resolve(stack, group)
        region = self.region_of(stack)
        return Resource(
            f"arn:aws:logs:{region}:{self.account_of(stack)}:log-group:{name}:log-stream:{stand_in_id(name)}"
        )

    # --- actors -------------------------------------------------------------------------

    def actions(self, provider: str | None = None) -> Iterator[tuple[dict, dict]]:
        """(stage, action) of the pipeline, optionally of one provider."""
        for stage in pipeline_stages(self.template(self.pipeline_stack)):
            for action in stage["Actions"]:
                if provider is None or action["ActionTypeId"]["Provider"] == provider:
                    yield stage, action

    @functools.cache  # noqa: B019 (one app per test session; the cache lives as long as it)
    def requests(self) -> list[Request]:
        """Every request of the contract for this app."""
        found: list[Request] = []
        found += self._pipeline_role()
        found += self._source_and_build()
        for _, action in self.actions("CodeDeployToECS"):
            found += self._deploy_action(action)
        for _, action in self.actions("ECS"):
            found += self._ecs_deploy_action(action)
        for _, action in self.actions("Lambda"):
            found += self._await_action(action)
        for stack in self.regional_stacks():
            found += self._regional(stack)
        return found

    def regional_stacks(self) -> list[str]:
        """The stacks with a copy of the service (not the pipeline's, nor an artifact store's)."""
        return [s for s in self.resolver.stacks if resources(self.template(s), "AWS::ECS::Service")]

    def _expand(
        self, actor: str, who: Caller, table: tuple[Row, ...], named: dict[str, Resource], **fill: str
    ):
        for row in table:
            resource = Resource("*") if row.resource == "*" else named[row.resource]
            context = {**dict(resource.context), **dict(row.context)}
            if "kms:CallerAccount" in context:
                context["kms:CallerAccount"] = who.account
            yield Request(
                actor=actor,
                caller=who,
                action=row.action.format(**fill),
                resource=resource,
                source=row.source,
                context=context,
            )

    def _pipeline_role(self) -> list[Request]:
        who = self.caller_of_arn(self.resolve(self.pipeline_stack, self.pipeline["RoleArn"]))
        found = []
        for store in self.pipeline["ArtifactStores"]:
            region = store["Region"]
            found += self._expand(
                f"pipeline role, {region} artifacts", who, ARTIFACT_STORE, self.artifact_store(region)
            )
        for _, action in self.actions():
            role_arn = self.resolve(self.pipeline_stack, action["RoleArn"])
            found.append(
                Request("pipeline role", who, "sts:AssumeRole", self.role_resource(role_arn), ACTION_ROLE)
            )
        return found

    def _source_and_build(self) -> list[Request]:
        stack, template = self.pipeline_stack, self.template(self.pipeline_stack)
        home = self.artifact_store(self.home_region)
        found = []
        source, build = self.only_action("Source"), self.only_action("Build")
        source_role = self.caller_of_arn(self.resolve(stack, source["RoleArn"]))
        found += self._expand("source action role", source_role, WRITES_ARTIFACTS, home)
        configuration = source["Configuration"]
        if source["ActionTypeId"]["Provider"] == "S3":
            bucket = self.resolve(stack, configuration["S3Bucket"])
            bucket_stack, bucket_id = self.find("AWS::S3::Bucket", bucket)
            policy = bucket_policy(self.resolver, bucket_stack, bucket_id)
            named = {
                "source_bucket": Resource(f"arn:aws:s3:::{bucket}", policy),
                "source_object": Resource(f"arn:aws:s3:::{bucket}/{configuration['S3ObjectKey']}", policy),
            }
            found += self._expand("source action role", source_role, S3_SOURCE, named)
            for rule in resources(template, "AWS::Events::Rule").values():
                # Rules that publish to a topic have no role: the topic's policy admits EventBridge.
                for target in (t for t in rule["Properties"]["Targets"] if "RoleArn" in t):
                    events_role = self.caller_of_arn(self.resolve(stack, target["RoleArn"]))
                    pipeline = Resource(self.resolve(stack, target["Arn"]))
                    found += self._expand(
                        "S3 upload rule's role", events_role, EVENTS, {"pipeline": pipeline}
                    )
        else:
            connection = configuration["ConnectionArn"]
            prefix = connection.split(":")[2]
            named = {"connection": Resource(connection)}
            found += self._expand("source action role", source_role, CONNECTION_SOURCE, named, prefix=prefix)
        build_role = self.caller_of_arn(self.resolve(stack, build["RoleArn"]))
        project_id = build["Configuration"]["ProjectName"]["Ref"]
        project = Resource(self.arn(stack, project_id))
        found += self._expand("build action role", build_role, BUILD_ACTION, {"project": project})
        project_props = template["Resources"][project_id]["Properties"]
        codebuild = self.caller(stack, project_props["ServiceRole"]["Fn::GetAtt"][0], "AWSCodeBuild")
        log_group = project_props["LogsConfig"]["CloudWatchLogs"]["GroupName"]
        named = {**home, "log_stream": self.log_stream(stack, log_group)}
        found += self._expand(
            "CodeBuild role", codebuild, BUILD_ROLE + READS_ARTIFACTS + WRITES_ARTIFACTS, named
        )
        return found

    def only_action(self, stage_name: str) -> dict:
        (action,) = [action for stage, action in self.actions() if stage["Name"] == stage_name]
        return action

    def deployment_group(self, action: dict) -> tuple[str, str]:
        """(stack, logical id) of the deployment group a deploy action names."""
        name = self.resolve(self.pipeline_stack, action["Configuration"]["DeploymentGroupName"])
        return self.find("AWS::CodeDeploy::DeploymentGroup", name)

    def task_definition(self, stack: str) -> dict:
        return service_task_definition(self.template(stack))

    def task_roles(self, stack: str) -> dict[str, Resource]:
        """The service's task and execution roles, which deploying passes to ECS tasks."""
        task_definition = self.task_definition(stack)
        return {
            "task_role": Resource(self.resolve(stack, task_definition["TaskRoleArn"])),
            "execution_role": Resource(self.resolve(stack, task_definition["ExecutionRoleArn"])),
        }

    def _deploy_action(self, action: dict) -> list[Request]:
        region = action.get("Region", self.home_region)
        stack, group_id = self.deployment_group(action)
        group = self.template(stack)["Resources"][group_id]["Properties"]
        application = self.resolve(self.pipeline_stack, action["Configuration"]["ApplicationName"])
        task_definition = self.task_definition(stack)
        family = self.resolve(stack, task_definition["Family"])
        config_name = self.resolve(stack, group.get("DeploymentConfigName", "CodeDeployDefault.ECSAllAtOnce"))
        codedeploy = f"arn:aws:codedeploy:{region}:{self.account_of(stack)}"
        ecs = f"arn:aws:ecs:{region}:{self.account_of(stack)}"
        named = {
            **self.artifact_store(region),
            "deployment_group": Resource(
                f"{codedeploy}:deploymentgroup:{application}/{self.ref(stack, group_id)}"
            ),
            "application": Resource(f"{codedeploy}:application:{application}"),
            "deployment_config": Resource(f"{codedeploy}:deploymentconfig:{config_name}"),
            "next_task_definition": Resource(f"{ecs}:task-definition/{family}:4"),
            **self.task_roles(stack),
        }
        who = self.caller_of_arn(self.resolve(self.pipeline_stack, action["RoleArn"]))
        actor = f"deploy action role of {action['Name']} ({stack})"
        return [
            *self._expand(actor, who, DEPLOY_ACTION + READS_ARTIFACTS, named),
            *self._passes_no_other(actor, who),
        ]

    def _passes_no_other(self, actor: str, who: Caller) -> list[Request]:
        """A role that deploys must not pass any other role of the account to ECS tasks (say, an admin role)."""
        other = {"task_role": Resource(f"arn:aws:iam::{who.account}:role/an-administrator-role")}
        refused = self._expand(actor, who, passes_task_roles(PASS_ROLE)[:1], other)
        return [replace(r, allowed=False) for r in refused]

    @functools.cached_property
    def release_plan(self) -> dict:
        """The build's RELEASE_PLAN, as CloudFormation resolves it."""
        return json.loads(build_variables(self.synthesized)["RELEASE_PLAN"])

    def hooks(self, stack: str) -> dict[str, str]:
        """Lifecycle event -> name of the Lambda function the build's appspec names for ``stack``'s service."""
        family = self.resolve(stack, self.task_definition(stack)["Family"])
        (target,) = [t for t in self.release_plan["targets"] if t["task_definition_family"] == family]
        return target["hooks"]

    def _regional(self, stack: str) -> list[Request]:
        template = self.template(stack)
        engine = self._codedeploy if resources(template, "AWS::CodeDeploy::DeploymentGroup") else self._ecs
        return [
            *engine(stack),
            *self._task_execution(stack),
            *self._database(stack),
            *self._protection(stack),
        ]

    def _protection(self, stack: str) -> list[Request]:
        """The deletion-protection resource's function: its stack's status, protection of what it names."""
        template, region = self.template(stack), self.region_of(stack)
        (protection,) = resources(template, "Custom::DeletionProtection").values()
        function_id = protection["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
        function = template["Resources"][function_id]["Properties"]
        who = self.caller(stack, function["Role"]["Fn::GetAtt"][0])
        actor = f"deletion-protection function ({stack})"
        named = {
            "log_stream": self.log_stream(stack, function["LoggingConfig"]["LogGroup"]),
            "stack": Resource(self.resolve(stack, {"Ref": "AWS::StackId"})),
        }
        found = list(self._expand(actor, who, PROTECTS, named))
        for arn in self.resolve(stack, protection["Properties"]["LoadBalancerArns"]):
            found += self._expand(actor, who, PROTECTS_LOAD_BALANCER, {"protected": Resource(arn)})
        for identifier in self.resolve(stack, protection["Properties"]["DatabaseClusters"]):
            cluster = Resource(f"arn:aws:rds:{region}:{self.account_of(stack)}:cluster:{identifier}")
            found += self._expand(actor, who, PROTECTS_DATABASE, {"protected": cluster})
        return found

    def _codedeploy(self, stack: str) -> list[Request]:
        template, region = self.template(stack), self.region_of(stack)
        found = []
        group = props(template, "AWS::CodeDeploy::DeploymentGroup")
        cluster = self.ref(stack, only(template, "AWS::ECS::Cluster")[0])
        service = self.name(stack, only(template, "AWS::ECS::Service")[0])
        balancer = self.name(stack, only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")[0])[:32]
        elb = f"arn:aws:elasticloadbalancing:{region}:{self.account_of(stack)}"
        balancer_path = f"app/{balancer}/{stand_in_id(stack, 'alb')}"
        (pair,) = group["LoadBalancerInfo"]["TargetGroupPairInfoList"]
        ecs = f"arn:aws:ecs:{region}:{self.account_of(stack)}"

        def listener(route: str) -> Resource:
            (listener_ref,) = pair[route]["ListenerArns"]
            return Resource(f"{elb}:listener/{balancer_path}/{stand_in_id(stack, listener_ref['Ref'])}")

        family = self.resolve(stack, self.task_definition(stack)["Family"])
        named = {
            "service": Resource(f"{ecs}:service/{cluster}/{service}"),
            "next_task_definition": Resource(
                f"{ecs}:task-definition/{family}:4", context=(("ecs:cluster", f"{ecs}:cluster/{cluster}"),)
            ),
            "task": Resource(f"{ecs}:task/{cluster}/{stand_in_id(stack, 'task', length=32)}"),
            "task_set": Resource(f"{ecs}:task-set/{cluster}/{service}/ecs-svc/{stand_in_id(stack, 'set')}"),
            "production_listener": listener("ProdTrafficRoute"),
            "test_listener": listener("TestTrafficRoute"),
            "listener_rule": Resource(
                f"{elb}:listener-rule/{balancer_path}/{stand_in_id(stack, 'l')}/{stand_in_id(stack, 'r')}"
            ),
            **self.task_roles(stack),
            **self._migration_named(stack),
        }
        codedeploy = self.caller(stack, group["ServiceRoleArn"]["Fn::GetAtt"][0])
        actor = f"CodeDeploy service role ({stack})"
        found += self._expand(actor, codedeploy, CODEDEPLOY_SERVICE_ROLE, named)
        # AWSCodeDeployRoleForECS passes any role; the role's own deny leaves the service's two.
        found += self._passes_no_other(actor, codedeploy)
        for alarm in group["AlarmConfiguration"]["Alarms"]:
            name = self.resolve(stack, alarm["Name"])
            alarm_named = {
                "alarm": Resource(f"arn:aws:cloudwatch:{region}:{self.account_of(stack)}:alarm:{name}")
            }
            found += self._expand(actor, codedeploy, READS_ALARM, alarm_named)
        for event, hook in self.hooks(stack).items():
            _, function_id = self.find("AWS::Lambda::Function", hook)
            function = template["Resources"][function_id]["Properties"]
            hook_named = {
                **named,
                "hook": Resource(self.arn(stack, function_id)),
                "log_stream": self.log_stream(stack, function["LoggingConfig"]["LogGroup"]),
                "network_interface": Resource(
                    f"arn:aws:ec2:{region}:{self.account_of(stack)}:network-interface/eni-{stand_in_id(hook, length=17)}"
                ),
            }
            found += self._expand(actor, codedeploy, INVOKES_HOOK, hook_named)
            hook_role = self.caller(stack, function["Role"]["Fn::GetAtt"][0])
            found += self._expand(f"{event} hook role ({stack})", hook_role, HOOK_ROLES[event], hook_named)
        return found

    def ecs_service(self, stack: str) -> tuple[str, dict]:
        """(logical id, properties) of ``stack``'s ECS service."""
        service_id, service = only(self.template(stack), "AWS::ECS::Service")
        return service_id, service["Properties"]

    def _ecs_named(self, stack: str) -> dict[str, Resource]:
        """The resources of ``stack`` the ECS engine's actors name."""
        template, region = self.template(stack), self.region_of(stack)
        service_id, service = self.ecs_service(stack)
        cluster = self.ref(stack, only(template, "AWS::ECS::Cluster")[0])
        name = self.name(stack, service_id)
        ecs = f"arn:aws:ecs:{region}:{self.account_of(stack)}"
        elb = f"arn:aws:elasticloadbalancing:{region}:{self.account_of(stack)}"
        balancer = self.name(stack, only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")[0])[:32]
        balancer_path = f"app/{balancer}/{stand_in_id(stack, 'alb')}"
        (load_balancer,) = service["LoadBalancers"]
        advanced = load_balancer["AdvancedConfiguration"]

        def target_group(value: dict) -> Resource:
            return Resource(f"{elb}:targetgroup/{value['Ref'][:32]}/{stand_in_id(stack, value['Ref'])}")

        def rule(value: dict) -> Resource:
            rule_id = value["Ref"]
            listener = template["Resources"][rule_id]["Properties"]["ListenerArn"]["Ref"]
            return Resource(
                f"{elb}:listener-rule/{balancer_path}/{stand_in_id(stack, listener)}/{stand_in_id(stack, rule_id)}"
            )

        family = self.resolve(stack, self.task_definition(stack)["Family"])
        return {
            "service": Resource(f"{ecs}:service/{cluster}/{name}"),
            "service_revision": Resource(
                f"{ecs}:service-revision/{cluster}/{name}/{stand_in_id(stack, 'rev')}"
            ),
            "service_deployment": Resource(
                f"{ecs}:service-deployment/{cluster}/{name}/{stand_in_id(stack, 'deployment')}"
            ),
            "next_task_definition": Resource(
                f"{ecs}:task-definition/{family}:4", context=(("ecs:cluster", f"{ecs}:cluster/{cluster}"),)
            ),
            "task": Resource(f"{ecs}:task/{cluster}/{stand_in_id(stack, 'task', length=32)}"),
            "blue_target_group": target_group(load_balancer["TargetGroupArn"]),
            "green_target_group": target_group(advanced["AlternateTargetGroupArn"]),
            "production_rule": rule(advanced["ProductionListenerRule"]),
            "test_rule": rule(advanced["TestListenerRule"]),
            # An action without a resource type, limited to the service's cluster by condition.
            "any_in_cluster": Resource("*", context=(("ecs:cluster", f"{ecs}:cluster/{cluster}"),)),
            **self.task_roles(stack),
            **self._migration_named(stack),
        }

    def _ecs(self, stack: str) -> list[Request]:
        template, region = self.template(stack), self.region_of(stack)
        _, service = self.ecs_service(stack)
        named = self._ecs_named(stack)
        found = []
        infrastructure = self.caller_of_arn(
            self.resolve(stack, service["LoadBalancers"][0]["AdvancedConfiguration"]["RoleArn"])
        )
        found += self._expand(f"ECS load balancer role ({stack})", infrastructure, LOAD_BALANCER_ROLE, named)
        for hook in service["DeploymentConfiguration"].get("LifecycleHooks", []):
            (stage,) = hook["LifecycleStages"]
            function_id = hook["HookTargetArn"]["Fn::GetAtt"][0]
            function = template["Resources"][function_id]["Properties"]
            hook_named = {
                **named,
                "hook": Resource(self.arn(stack, function_id)),
                "log_stream": self.log_stream(stack, function["LoggingConfig"]["LogGroup"]),
                "network_interface": Resource(
                    f"arn:aws:ec2:{region}:{self.account_of(stack)}:network-interface/eni-{stand_in_id(function_id, length=17)}"
                ),
            }
            invoker = self.caller_of_arn(self.resolve(stack, hook["RoleArn"]))
            found += self._expand(f"ECS hook invoke role ({stack})", invoker, ECS_INVOKES_HOOK, hook_named)
            hook_role = self.caller(stack, function["Role"]["Fn::GetAtt"][0])
            found += self._expand(
                f"{stage} hook role ({stack})", hook_role, ECS_HOOK_ROLES[stage], hook_named
            )
        (released_image,) = resources(template, "Custom::ReleasedImage").values()
        function = template["Resources"][released_image["Properties"]["ServiceToken"]["Fn::GetAtt"][0]]
        reader = self.caller(stack, function["Properties"]["Role"]["Fn::GetAtt"][0])
        image_named = {
            **named,
            "log_stream": self.log_stream(stack, function["Properties"]["LoggingConfig"]["LogGroup"]),
        }
        found += self._expand(f"released-image function ({stack})", reader, READS_SERVED_IMAGE, image_named)
        return found

    def _ecs_deploy_action(self, action: dict) -> list[Request]:
        region = action.get("Region", self.home_region)
        name = self.resolve(self.pipeline_stack, action["Configuration"]["ServiceName"])
        (stack,) = [
            s
            for s in self.regional_stacks()
            if self.region_of(s) == region and self.name(s, self.ecs_service(s)[0]) == name
        ]
        named = {**self.artifact_store(region), **self._ecs_named(stack)}
        who = self.caller_of_arn(self.resolve(self.pipeline_stack, action["RoleArn"]))
        actor = f"deploy action role of {action['Name']} ({stack})"
        return [
            *self._expand(actor, who, ECS_DEPLOY_ACTION + READS_ARTIFACTS, named),
            *self._passes_no_other(actor, who),
        ]

    def _await_action(self, action: dict) -> list[Request]:
        """The wait for a wave: its action role invokes the function and reads the build output; the function
        describes each region's service deployment (evaluated with the ``ecs:cluster`` it belongs to)."""
        function_name = self.resolve(self.pipeline_stack, action["Configuration"]["FunctionName"])
        _, function_id = self.find("AWS::Lambda::Function", function_name)
        function = self.template(self.pipeline_stack)["Resources"][function_id]["Properties"]
        who = self.caller_of_arn(self.resolve(self.pipeline_stack, action["RoleArn"]))
        named = {
            **self.artifact_store(self.home_region),
            "function": Resource(self.arn(self.pipeline_stack, function_id)),
        }
        found = list(
            self._expand(f"wait action role of {action['Name']}", who, INVOKES_WAIT + READS_ARTIFACTS, named)
        )
        waiter = self.caller(self.pipeline_stack, function["Role"]["Fn::GetAtt"][0])
        for region in json.loads(
            self.resolve(self.pipeline_stack, action["Configuration"]["UserParameters"])
        ):
            (stack,) = [
                s
                for s in self.regional_stacks()
                if self.region_of(s) == region["region"]
                and self.name(s, self.ecs_service(s)[0]) == region["service"]
            ]
            cluster_arn = self.arn(stack, only(self.template(stack), "AWS::ECS::Cluster")[0])
            in_cluster = (("ecs:cluster", cluster_arn),)
            ecs = self._ecs_named(stack)
            region_named = {
                kind: replace(ecs[kind], context=in_cluster)
                for kind in ("service", "service_deployment", "service_revision")
            }
            region_named["log_stream"] = self.log_stream(
                self.pipeline_stack, function["LoggingConfig"]["LogGroup"]
            )
            actor = f"wait function ({region['region']})"
            if "reader_role_arn" not in region:
                found += self._expand(actor, waiter, AWAITS_DEPLOYMENTS, region_named)
                continue
            reader = region["reader_role_arn"]
            region_named["reader_role"] = self.role_resource(reader)
            found += self._expand(actor, waiter, AWAITS_ACROSS_ACCOUNTS, region_named)
            found += self._expand(
                f"reader role ({stack}) for the wait",
                self.caller_of_arn(reader),
                READS_AWAITED_SERVICE,
                region_named,
            )
        return found

    def repository(self, stack: str) -> str:
        return self.arn(stack, only(self.template(stack), "AWS::ECR::Repository")[0])

    def task_definitions(self, stack: str) -> dict[str, dict]:
        """Logical id -> properties of every task definition of ``stack`` (the service's, the database setup's)."""
        return {
            lid: r["Properties"]
            for lid, r in resources(self.template(stack), "AWS::ECS::TaskDefinition").items()
        }

    def _starts_tasks(
        self, stack: str, actor: str, role_arn: object, container: dict, *, released: bool = False
    ) -> list[Request]:
        """What ECS does with a task's execution role: pull ``container``'s image (and, when ``released``,
        the releases in the region's repository), create its log stream, read its secrets (and decrypt the
        database's with its key)."""
        who = self.caller_of_arn(self.resolve(stack, role_arn))
        image = self.resolve(stack, container["Image"])
        if "container-assets" in image:  # the project's bootstrap image, in the CDK bootstrap repository
            account, _, _, region, *_ = image.split(".")
            repository = f"arn:aws:ecr:{region}:{account}:repository/{image.split('/', 1)[1].split(':')[0]}"
        else:
            repository = self.repository(stack)
        named = {
            "repository": Resource(repository),
            "log_stream": self.log_stream(stack, container["LogConfiguration"]["Options"]["awslogs-group"]),
        }
        found = list(self._expand(actor, who, PULLS_IMAGE, named))
        if released and repository != self.repository(stack):
            found += self._expand(
                actor, who, PULLS_IMAGE[1:2], {"repository": Resource(self.repository(stack))}
            )
        for secret in container.get("Secrets", []):
            arn = self.resolve(stack, secret["ValueFrom"])
            service = arn.split(":")[2]
            if service == "secretsmanager":
                arn = ":".join(
                    arn.split(":")[:7]
                )  # IAM evaluates the secret, not the JSON key valueFrom names
                if not re.search(r"-[A-Za-z0-9]{6}$", arn):
                    arn += "-AbCdEf"  # a secret's ARN ends in six characters Secrets Manager adds
            found += self._expand(actor, who, (READS_SECRET[service],), {"secret": Resource(arn)})
            if arn in self.master_secrets(stack):
                found += self._expand(actor, who, DECRYPTS_SECRET, {"key": self.database_key(stack)})
        return found

    def master_secrets(self, stack: str) -> list[str]:
        return [
            self.resolver.get_att(self.resolver.stacks[stack], lid, "MasterUserSecret.SecretArn")
            for lid in resources(self.template(stack), "AWS::RDS::DBCluster")
        ]

    def database_key(self, stack: str) -> Resource:
        """The key that encrypts the database and its master secret, as Secrets Manager uses it."""
        (cluster,) = resources(self.template(stack), "AWS::RDS::DBCluster").values()
        key_id = cluster["Properties"]["MasterUserSecret"]["KmsKeyId"]["Fn::GetAtt"][0]
        policy = self.resolve(stack, self.template(stack)["Resources"][key_id]["Properties"]["KeyPolicy"])
        via = (("kms:ViaService", f"secretsmanager.{self.region_of(stack)}.amazonaws.com"),)
        return Resource(self.arn(stack, key_id), policy, via)

    def _task_execution(self, stack: str) -> list[Request]:
        task_definition = self.task_definition(stack)
        (container,) = task_definition["ContainerDefinitions"]
        actor = f"task execution role ({stack})"
        found = self._starts_tasks(
            stack, actor, task_definition["ExecutionRoleArn"], container, released=True
        )
        who = self.caller_of_arn(self.resolve(stack, task_definition["ExecutionRoleArn"]))
        for other in self.regional_stacks():
            if other != stack:
                refused = list(
                    self._expand(
                        actor, who, PULLS_IMAGE[1:2], {"repository": Resource(self.repository(other))}
                    )
                )
                found += [replace(r, allowed=False) for r in refused]
        return found

    # --- the database -------------------------------------------------------------------------

    def database_user(self, stack: str, user: str) -> Resource:
        """What IAM evaluates ``rds-db:connect`` on: the cluster's resource id and the database user."""
        (cluster_id,) = resources(self.template(stack), "AWS::RDS::DBCluster")
        resource_id = self.resolver.get_att(self.resolver.stacks[stack], cluster_id, "DBClusterResourceId")
        return Resource(
            f"arn:aws:rds-db:{self.region_of(stack)}:{self.account_of(stack)}:dbuser:{resource_id}/{user}"
        )

    def migration_environment(self, stack: str) -> dict | None:
        """The migration hook function's environment (with a migration command), else None."""
        found = [
            r["Properties"]["Environment"]["Variables"]
            for r in resources(self.template(stack), "AWS::Lambda::Function").values()
            if "MIGRATION_FAMILY" in r["Properties"].get("Environment", {}).get("Variables", {})
        ]
        return found[0] if found else None

    def _migration_named(self, stack: str) -> dict[str, Resource]:
        """The migration's own revisions (run on the service's cluster) and its execution role."""
        environment = self.migration_environment(stack)
        if environment is None:
            return {}
        ecs = f"arn:aws:ecs:{self.region_of(stack)}:{self.account_of(stack)}"
        cluster = self.ref(stack, only(self.template(stack), "AWS::ECS::Cluster")[0])
        family = self.resolve(stack, environment["MIGRATION_FAMILY"])
        return {
            "migration_task_definition": Resource(
                f"{ecs}:task-definition/{family}:7", context=(("ecs:cluster", f"{ecs}:cluster/{cluster}"),)
            ),
            "migration_execution_role": Resource(
                self.resolve(stack, environment["MIGRATION_EXECUTION_ROLE"])
            ),
        }

    def _database(self, stack: str) -> list[Request]:
        """Who signs in to the database, and who starts the tasks that get the master credentials."""
        template = self.template(stack)
        if not resources(template, "AWS::RDS::DBCluster"):
            return []
        found = []
        service_definition = self.task_definition(stack)
        (service_container,) = service_definition["ContainerDefinitions"]
        task_role = self.caller_of_arn(self.resolve(stack, service_definition["TaskRoleArn"]))
        found += self._expand(
            f"service task role ({stack})",
            task_role,
            SIGNS_IN,
            {"database_user": self.database_user(stack, APP_USER)},
        )
        # The service never signs in as the master user, nor reads its secret.
        master = self.database_user(stack, MASTER_USER)
        refused = list(
            self._expand(f"service task role ({stack})", task_role, SIGNS_IN, {"database_user": master})
        )
        execution = self.caller_of_arn(self.resolve(stack, service_definition["ExecutionRoleArn"]))
        for secret in self.master_secrets(stack):
            named = {"secret": Resource(secret), "key": self.database_key(stack)}
            refused += self._expand(
                f"service execution role ({stack})", execution, READS_MASTER_SECRET, named
            )
        found += [replace(r, allowed=False) for r in refused]
        environment = self.migration_environment(stack)
        if environment is not None:
            # The migration's revision is the green one (a released image of the region's repository) with the
            # master credentials and this execution role.
            repository_id = only(template, "AWS::ECR::Repository")[0]
            container = {
                **service_container,
                "Image": {"Fn::GetAtt": [repository_id, "RepositoryUri"]},
                "Secrets": [
                    *service_container.get("Secrets", []),
                    *({"ValueFrom": f"{secret}:username::"} for secret in self.master_secrets(stack)),
                ],
            }
            found += self._starts_tasks(
                stack,
                f"migration execution role ({stack})",
                environment["MIGRATION_EXECUTION_ROLE"],
                container,
            )
        (users,) = resources(template, "Custom::DatabaseUsers").values()
        setup_id = users["Properties"]["TaskDefinition"]["Ref"]
        setup = self.task_definitions(stack)[setup_id]
        (setup_container,) = setup["ContainerDefinitions"]
        found += self._starts_tasks(
            stack, f"database setup execution role ({stack})", setup["ExecutionRoleArn"], setup_container
        )
        function = template["Resources"][users["Properties"]["ServiceToken"]["Fn::GetAtt"][0]]["Properties"]
        ecs = f"arn:aws:ecs:{self.region_of(stack)}:{self.account_of(stack)}"
        cluster = self.ref(stack, only(template, "AWS::ECS::Cluster")[0])
        named = {
            "log_stream": self.log_stream(stack, function["LoggingConfig"]["LogGroup"]),
            "setup_task_definition": Resource(
                self.arn(stack, setup_id), context=(("ecs:cluster", f"{ecs}:cluster/{cluster}"),)
            ),
            "setup_task_role": Resource(self.resolve(stack, setup["TaskRoleArn"])),
            "setup_execution_role": Resource(self.resolve(stack, setup["ExecutionRoleArn"])),
            "task": Resource(f"{ecs}:task/{cluster}/{stand_in_id(stack, 'setup', length=32)}"),
        }
        who = self.caller(stack, function["Role"]["Fn::GetAtt"][0])
        found += self._expand(f"database setup function ({stack})", who, RUNS_DATABASE_SETUP, named)
        return found

    # --- trust --------------------------------------------------------------------------

    def expected_principals(self) -> dict[str, tuple[str, ...]]:
        """Role ARN -> the principals that should assume it: a service, or roles of the pipeline's account."""
        return {
            role: principal if isinstance(principal, tuple) else (principal,)
            for role, principal in self._principals().items()
        }

    def _principals(self) -> dict[str, str | tuple[str, ...]]:
        expected: dict[str, str | tuple[str, ...]] = {}
        pipeline_role = self.resolve(self.pipeline_stack, self.pipeline["RoleArn"])
        expected[pipeline_role] = "codepipeline.amazonaws.com"
        for _, action in self.actions():
            expected[self.resolve(self.pipeline_stack, action["RoleArn"])] = pipeline_role
        users = {
            ("AWS::CodeBuild::Project", "ServiceRole"): "codebuild.amazonaws.com",
            ("AWS::CodeDeploy::DeploymentGroup", "ServiceRoleArn"): "codedeploy.amazonaws.com",
            ("AWS::Lambda::Function", "Role"): "lambda.amazonaws.com",
            ("AWS::ECS::TaskDefinition", "TaskRoleArn"): ECS_TASKS,
            ("AWS::ECS::TaskDefinition", "ExecutionRoleArn"): ECS_TASKS,
            ("AWS::EC2::FlowLog", "DeliverLogsPermissionArn"): "vpc-flow-logs.amazonaws.com",
            ("AWS::StepFunctions::StateMachine", "RoleArn"): "states.amazonaws.com",
        }
        for stack in self.resolver.stacks:
            template = self.template(stack)
            for (resource_type, key), principal in users.items():
                for resource in resources(template, resource_type).values():
                    expected[self.resolve(stack, resource["Properties"][key])] = principal
            for rule in resources(template, "AWS::Events::Rule").values():
                for target in (t for t in rule["Properties"]["Targets"] if "RoleArn" in t):
                    expected[self.resolve(stack, target["RoleArn"])] = "events.amazonaws.com"
            for record in resources(template, "Custom::AWS").values():
                # A record written in another account's hosted zone, as that zone's writer role.
                writer = json.loads(self.resolve(stack, record["Properties"]["Create"]))["assumedRoleArn"]
                function = template["Resources"][record["Properties"]["ServiceToken"]["Fn::GetAtt"][0]]
                expected[writer] = (self.resolve(stack, function["Properties"]["Role"]),)
            for role_id in resources(template, "AWS::IAM::Role"):
                if role_id.startswith("ReleaseReaderRole"):  # another account's, read by the build and wait
                    expected[self.arn(stack, role_id)] = (self.build_role_arn, *self.wait_role_arns)
            migration = self.migration_environment(stack)
            if migration is not None:  # the execution role of the migration's own revisions
                expected[self.resolve(stack, migration["MIGRATION_EXECUTION_ROLE"])] = ECS_TASKS
            for service in resources(template, "AWS::ECS::Service").values():
                ecs_roles = [
                    *(
                        b["AdvancedConfiguration"]["RoleArn"]
                        for b in service["Properties"].get("LoadBalancers", [])
                        if "AdvancedConfiguration" in b
                    ),
                    *(
                        h["RoleArn"]
                        for h in service["Properties"]
                        .get("DeploymentConfiguration", {})
                        .get("LifecycleHooks", [])
                    ),
                ]
                for role in ecs_roles:
                    expected[self.resolve(stack, role)] = "ecs.amazonaws.com"
        return expected

    @property
    def wait_role_arns(self) -> tuple[str, ...]:
        """The wait function's role, when the pipeline waits for ECS deployments."""
        template = self.template(self.pipeline_stack)
        return tuple(
            dict.fromkeys(
                self.resolve(self.pipeline_stack, template["Resources"][function_id]["Properties"]["Role"])
                for _, action in self.actions("Lambda")
                for _, function_id in [
                    self.find(
                        "AWS::Lambda::Function",
                        self.resolve(self.pipeline_stack, action["Configuration"]["FunctionName"]),
                    )
                ]
            )
        )

    @property
    def build_role_arn(self) -> str:
        project = props(self.template(self.pipeline_stack), "AWS::CodeBuild::Project")
        return self.resolve(self.pipeline_stack, project["ServiceRole"])

    def roles(self) -> list[str]:
        return [
            self.arn(stack, lid)
            for stack in self.resolver.stacks
            for lid in resources(self.template(stack), "AWS::IAM::Role")
        ]
