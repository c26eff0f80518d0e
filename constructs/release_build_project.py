"""The CodeBuild project of the release's Build stage."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.deploy_target import DeployTarget

PREPARE_RELEASE_SCRIPT = Path(__file__).resolve().parent.parent / "release" / "prepare_release.py"
_HEREDOC_END = "PREPARE_RELEASE_PY"


def release_build_spec(targets: Sequence[DeployTarget]) -> codebuild.BuildSpec:
    """Runs release/prepare_release.py, inlined, and keeps every target's files as the artifact."""
    script = PREPARE_RELEASE_SCRIPT.read_text()
    if _HEREDOC_END in script:
        raise ValueError(f"{PREPARE_RELEASE_SCRIPT} must not contain {_HEREDOC_END}")
    return codebuild.BuildSpec.from_object(
        {
            "version": "0.2",
            "env": {"shell": "bash"},
            "phases": {"build": {"commands": [f"python3 - <<'{_HEREDOC_END}'\n{script}{_HEREDOC_END}"]}},
            "artifacts": {
                "files": [name for t in targets for name in (t.task_definition_file, t.appspec_file)],
            },
        }
    )


def release_plan(targets: Sequence[DeployTarget]) -> dict:
    """What the build needs to know of every target (the RELEASE_PLAN variable)."""
    return {
        "targets": [
            {
                "region": t.region,
                "repository_uri": t.repository.repository_uri,
                "task_definition_family": t.task_definition_family,
                "container_name": t.container_name,
                "container_port": t.container_port,
                "task_definition_file": t.task_definition_file,
                "appspec_file": t.appspec_file,
                "hooks": {"AfterAllowTestTraffic": t.test_traffic_hook} if t.test_traffic_hook else {},
            }
            for t in targets
        ]
    }


class ReleaseBuildProject(Construct):
    """A privileged CodeBuild project that turns the source into every target's deploy files.

    It builds the image from the source's Dockerfile once, pushes it to every
    target's repository concurrently, and writes each target's task definition
    and appspec (see release/prepare_release.py). It may push to exactly those
    repositories and describe task definitions.

    Args:
        targets: every region of every environment the release deploys to.
    """

    def __init__(self, scope: Construct, construct_id: str, *, targets: Sequence[DeployTarget]) -> None:
        super().__init__(scope, construct_id)
        self.project = codebuild.PipelineProject(
            self,
            "Project",
            description="Builds the image once, pushes it to every region, writes each region's deploy files",
            build_spec=release_build_spec(targets),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=True,
            ),
            environment_variables={
                "RELEASE_PLAN": codebuild.BuildEnvironmentVariable(
                    value=Stack.of(self).to_json_string(release_plan(targets))
                )
            },
        )
        for target in targets:
            target.repository.grant_pull_push(self.project)
        self.project.add_to_role_policy(
            iam.PolicyStatement(
                # DescribeTaskDefinition supports no resource-level permissions.
                actions=["ecs:DescribeTaskDefinition"],
                resources=["*"],
            )
        )
