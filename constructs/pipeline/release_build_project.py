"""The CodeBuild project of the release's Build stage."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct
from constructs.nag_acknowledgments import (
    KMS_DATA_KEY_ACTIONS,
    S3_WRITE_ACTIONS,
    acknowledge,
    acknowledge_artifact_grants,
    ref_of,
)
from constructs.pipeline.deploy_target import DeployTarget
from constructs.settings.retention import log_group
from release.prepare_release import DIGEST_FILE, EXPORTED_DIGEST

PREPARE_RELEASE_SCRIPT = Path(__file__).resolve().parents[2] / "release" / "prepare_release.py"
_HEREDOC_END = "PREPARE_RELEASE_PY"
# What pushing an image and reading it back takes: the actions of CDK's grantPullPush, which AWS documents for
# docker push (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html).
PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
)


COMPUTE_TYPES = {
    "small": codebuild.ComputeType.SMALL,
    "medium": codebuild.ComputeType.MEDIUM,
    "large": codebuild.ComputeType.LARGE,
}


def release_build_spec(targets: Sequence[DeployTarget]) -> codebuild.BuildSpec:
    """Runs release/prepare_release.py, inlined, keeps every target's files as the artifact, and exports the
    image's digest (``IMAGE_DIGEST``; buildspec 0.2 runs a phase's commands in one shell)."""
    script = PREPARE_RELEASE_SCRIPT.read_text()
    if _HEREDOC_END in script:
        raise ValueError(f"{PREPARE_RELEASE_SCRIPT} must not contain {_HEREDOC_END}")
    return codebuild.BuildSpec.from_object(
        {
            "version": "0.2",
            "env": {"shell": "bash", "exported-variables": [EXPORTED_DIGEST]},
            "phases": {
                "build": {
                    "commands": [
                        f"python3 - <<'{_HEREDOC_END}'\n{script}{_HEREDOC_END}",
                        f'export {EXPORTED_DIGEST}="$(cat {DIGEST_FILE})"',
                    ]
                }
            },
            "artifacts": {
                "files": [name for t in targets for name in t.deployment.artifact_files(t)],
            },
        }
    )


def repository_uri(target: DeployTarget) -> str:
    """The repository's URI, built from its name: no Fn::Split of an ARN that cfn-lint cannot follow."""
    env = target.repository.env
    return f"{env.account}.dkr.ecr.{env.region}.{Aws.URL_SUFFIX}/{target.repository.repository_name}"


def release_plan(targets: Sequence[DeployTarget], cache_repository: str | None = None) -> dict:
    """What the build needs to know of every target (the RELEASE_PLAN variable), and where its cache is."""
    return {
        **({"cache_repository": cache_repository} if cache_repository else {}),
        "targets": [
            {
                "region": t.region,
                "repository_uri": repository_uri(t),
                "task_definition_family": t.task_definition_family,
                "container_name": t.container_name,
                "container_port": t.container_port,
                **({"reader_role_arn": t.reader_role.role_arn} if t.reader_role else {}),
                **t.deployment.build_plan(t),
            }
            for t in targets
        ],
    }


class ReleaseBuildProject(Construct):
    """A privileged CodeBuild project that turns the source into every target's deploy files.

    It builds the image from the source's Dockerfile once, pushes it to every
    target's repository concurrently, and writes each target's task definition
    and appspec (see release/prepare_release.py). It may push to exactly those
    repositories and describe task definitions.

    Its build output is encrypted with ``encryption_key`` and its logs are
    kept for a month.

    Args:
        targets: every region of every environment the release deploys to.
        encryption_key: the pipeline's artifact key.
        artifact_objects: the artifact bucket's objects as cdk-nag writes them (``<Bucket.Arn>/*``).
        compute: its compute size, ``small``, ``medium`` or ``large``. Default ``small``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        targets: Sequence[DeployTarget],
        encryption_key: kms.IKey,
        artifact_objects: str,
        compute: str = "small",
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # The build's layer cache (release/prepare_release.py): one mutable tag, rewritten by every release, so
        # not in the regions' repositories, whose tags are immutable. Disposable: emptied and deleted with the
        # stack; the manifests each release's cache replaces expire after a day.
        self.cache = ecr.Repository(
            self,
            "Cache",
            image_tag_mutability=ecr.TagMutability.MUTABLE,
            # Basic scanning costs nothing; the cache's layers are the released images' own.
            image_scan_on_push=True,
            lifecycle_rules=[
                ecr.LifecycleRule(tag_status=ecr.TagStatus.UNTAGGED, max_image_age=Duration.days(1))
            ],
            removal_policy=RemovalPolicy.DESTROY,
            empty_on_delete=True,
        )
        cache_uri = f"{stack.account}.dkr.ecr.{stack.region}.{Aws.URL_SUFFIX}/{self.cache.repository_name}"
        self.project = codebuild.PipelineProject(
            self,
            "Project",
            description="Builds the image once, pushes it to every region, writes each region's deploy files",
            build_spec=release_build_spec(targets),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=COMPUTE_TYPES[compute],
                privileged=True,
            ),
            encryption_key=encryption_key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group(self, "Logs"))
            ),
            environment_variables={
                "RELEASE_PLAN": codebuild.BuildEnvironmentVariable(
                    value=stack.to_json_string(release_plan(targets, cache_uri))
                )
            },
        )
        self.cache.grant_pull_push(self.project)
        account = stack.account
        for target in targets:
            if target.account != account:
                self._push_across_accounts(target)
                continue
            target.repository.grant_pull_push(self.project)
            # The build reads each pushed image's digest back (`aws ecr describe-images`).
            target.repository.grant(self.project, "ecr:DescribeImages")
        self.project.add_to_role_policy(
            iam.PolicyStatement(
                # DescribeTaskDefinition supports no resource-level permissions.
                actions=["ecs:DescribeTaskDefinition"],
                resources=["*"],
            )
        )
        self._acknowledge_findings(artifact_objects)

    def _push_across_accounts(self, target: DeployTarget) -> None:
        """Let the build push to, and read back from, a repository of another account, and read its task
        definition through the region's reader role.

        Both sides must allow a cross-account call. The repository's policy admits the build role by ARN in a
        condition on its account: ECR refuses a policy naming a role that does not exist yet ("Principal not
        found"), and the region's stack deploys before the pipeline's. (CDK's own grant admits any role of the
        account that carries a tag, which anyone there allowed to tag roles could copy.)
        """
        role = self.project.role
        # Logging in to any registry (CDK's grant adds it for repositories of the build's own account).
        self.project.add_to_role_policy(
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
        target.repository.add_to_resource_policy(
            iam.PolicyStatement(
                actions=[*PUSH_ACTIONS, "ecr:DescribeImages"],
                principals=[iam.AccountPrincipal(Stack.of(self).account)],
                conditions={"ArnEquals": {"aws:PrincipalArn": role.role_arn}},
            )
        )
        self.project.add_to_role_policy(
            iam.PolicyStatement(
                actions=[*PUSH_ACTIONS, "ecr:DescribeImages"], resources=[target.repository.repository_arn]
            )
        )
        if target.reader_role is None:
            raise ValueError(f"targets: {target.region} is in another account and needs a reader_role")
        target.reader_role.trust(role)
        self.project.add_to_role_policy(
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[target.reader_role.role_arn])
        )

    def _acknowledge_findings(self, artifact_objects: str) -> None:
        role, stack = self.project.role, Stack.of(self)
        acknowledge_artifact_grants(
            role,
            s3_actions=S3_WRITE_ACTIONS,
            kms_actions=KMS_DATA_KEY_ACTIONS,
            object_arns=(artifact_objects,),
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken and ecs:DescribeTaskDefinition support no resource-level permissions; "
            "pushes are limited to the release's repositories.",
        )
        project = ref_of(self.project)
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:aws:logs:{stack.region}:{stack.account}:log-group:/aws/codebuild/"
            f"{project}:*]",
            "CDK's default CodeBuild log permission: streams of this project's own log group only.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::arn:aws:codebuild:{stack.region}:{stack.account}:report-group/{project}-*]",
            "CDK's default CodeBuild permission: test-report groups of this project only.",
        )
