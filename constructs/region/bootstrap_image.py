"""The image a region's service starts with before its first release: the project's own, unless configured."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam

from constructs import Construct

# release/bootstrap: a Dockerfile and a small server (200 on every path, on PORT, as uid 10001).
BOOTSTRAP_CONTEXT = Path(__file__).resolve().parents[2] / "release" / "bootstrap"


@dataclass(frozen=True)
class BootstrapImage:
    """The image a service starts with, its URI, and the repository it is pulled from when it is an asset.

    Attributes:
        image: for the container definition (it grants the pull of an asset itself).
        uri: the image's reference.
        repository: the CDK bootstrap stack's repository holding the asset; None for a configured image.
    """

    image: ecs.ContainerImage
    uri: str
    repository: ecr.IRepository | None = None

    def grant_pull(self, role: iam.IGrantable) -> None:
        """Let ``role`` pull the image where a container names it by URI alone (the ECS engine's released image)."""
        if self.repository is not None:
            self.repository.grant_pull(role)


def bootstrap_image(scope: Construct, configured: str | None) -> BootstrapImage:
    """The bootstrap image for ``scope``'s stack: ``configured``, else the project's own.

    The project's own is a Docker image asset, one per stack: the CDK CLI builds it (for Fargate's
    x86_64) and pushes it to the CDK bootstrap stack's container-assets repository of the stack's account
    and region during ``cdk deploy``; the task execution role may pull it from there.
    """
    if configured is not None:
        return BootstrapImage(ecs.ContainerImage.from_registry(configured), configured)
    stack = Stack.of(scope)
    asset = stack.node.try_find_child("BootstrapImage") or ecr_assets.DockerImageAsset(
        stack, "BootstrapImage", directory=str(BOOTSTRAP_CONTEXT), platform=ecr_assets.Platform.LINUX_AMD64
    )
    return BootstrapImage(
        ecs.ContainerImage.from_docker_image_asset(asset), asset.image_uri, asset.repository
    )
