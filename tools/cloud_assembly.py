"""Read a synthesized cloud assembly (cdk.out): its stacks, their environments, templates and deploy order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class AssemblyError(RuntimeError):
    """The cloud assembly is missing or not what this app synthesizes; the message says what to do."""


def stack_name(artifact_id: str, artifact: dict) -> str:
    """A stack artifact's stack name: the manifest leaves it out when it equals the artifact's ID."""
    return artifact.get("properties", {}).get("stackName", artifact_id)


@dataclass(frozen=True)
class StackArtifact:
    artifact_id: str
    name: str
    account: str
    region: str
    template: dict
    dependencies: tuple[str, ...]
    path: str = ""  # the stack's construct path in the app (the manifest's displayName)

    @property
    def resources(self) -> dict[str, dict]:
        return self.template.get("Resources", {})

    def construct_path(self, logical_id: str) -> str | None:
        """The construct path of a resource under its stack, without the resource's own segment.

        ``BlueGreen/DeploymentGroup`` for the CodeDeploy deployment group; None without path
        metadata (``cdk synth --no-path-metadata``).
        """
        path = self.resources[logical_id].get("Metadata", {}).get("aws:cdk:path")
        if not path:
            return None
        parts = path.removeprefix(f"{self.path}/").split("/")
        return "/".join(parts[:-1] or parts)

    def of_type(self, resource_type: str) -> dict[str, dict]:
        return {lid: r for lid, r in self.resources.items() if r["Type"] == resource_type}


@dataclass(frozen=True)
class CloudAssembly:
    directory: Path
    stacks: dict[str, StackArtifact]  # by stack name

    @classmethod
    def read(cls, directory: str | Path = "cdk.out") -> CloudAssembly:
        root = Path(directory)
        manifest_file = root / "manifest.json"
        if not manifest_file.is_file():
            raise AssemblyError(f"{manifest_file} not found; run `make synth` first")
        manifest = json.loads(manifest_file.read_text())
        stacks = {}
        for artifact_id, artifact in manifest["artifacts"].items():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            account, region = artifact["environment"].removeprefix("aws://").split("/")
            properties = artifact["properties"]
            name = stack_name(artifact_id, artifact)
            stacks[name] = StackArtifact(
                artifact_id=artifact_id,
                name=name,
                account=account,
                region=region,
                template=json.loads((root / properties["templateFile"]).read_text()),
                dependencies=tuple(artifact.get("dependencies", ())),
                path=artifact.get("displayName", artifact_id),
            )
        if not stacks:
            raise AssemblyError(f"{root} holds no stacks; run `make synth` first")
        return cls(root, stacks)

    def by_artifact_id(self, artifact_id: str) -> StackArtifact | None:
        return next((s for s in self.stacks.values() if s.artifact_id == artifact_id), None)

    def deploy_order(self) -> list[StackArtifact]:
        """Stacks in an order CloudFormation can deploy them: dependencies first, then by name."""
        ordered: list[StackArtifact] = []
        placed: set[str] = set()
        remaining = sorted(self.stacks.values(), key=lambda s: s.name)
        while remaining:
            ready = [
                s
                for s in remaining
                if all(d in placed or self.by_artifact_id(d) is None for d in s.dependencies)
            ]
            if not ready:
                raise AssemblyError("the stacks depend on each other in a cycle; fix the app and synth again")
            for stack in ready:
                ordered.append(stack)
                placed.add(stack.artifact_id)
            remaining = [s for s in remaining if s.artifact_id not in placed]
        return ordered

    def pipeline(self) -> tuple[StackArtifact, dict]:
        """The app's one pipeline: the stack that holds it, and its resource."""
        found = [
            (s, r) for s in self.stacks.values() for r in s.of_type("AWS::CodePipeline::Pipeline").values()
        ]
        if len(found) != 1:
            raise AssemblyError(
                f"expected one pipeline in {self.directory}, found {len(found)}; run `make synth`"
            )
        return found[0]

    def service_stacks(self) -> list[StackArtifact]:
        """The stacks that run a copy of the service (production and staging), in name order."""
        return sorted(
            (s for s in self.stacks.values() if s.of_type("AWS::ECS::Service")), key=lambda s: s.name
        )

    def environments(self) -> list[tuple[str, str]]:
        """Every (account, region) the stacks use, in deploy order, without repeats."""
        return list(dict.fromkeys((s.account, s.region) for s in self.deploy_order()))
