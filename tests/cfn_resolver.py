"""Resolve the intrinsic functions of synthesized templates to the values CloudFormation would produce.

Enough of CloudFormation for the tests: pseudo parameters, ``Ref`` and
``Fn::GetAtt ... Arn`` of the resource types this app uses (physical names are
the explicit name property, else one made from the stack and logical id, as
CloudFormation generates them), ``Fn::Join``, ``Fn::Select``, ``Fn::Split``,
``Fn::Sub`` and ``Fn::GetStackOutput``. Anything else fails loudly.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

URL_SUFFIX = "amazonaws.com"

# Resource type -> the property that holds its explicit physical name.
NAME_PROPERTIES = {
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::CodeDeploy::Application": "ApplicationName",
    "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::Service": "ServiceName",
    "AWS::Lambda::Function": "FunctionName",
}


@dataclass(frozen=True)
class Stack:
    name: str
    account: str
    region: str
    template: dict


# Resources whose Ref is their ARN (CloudFormation's resource reference, "Return values").
ARN_REFS = (
    "AWS::ECS::TaskDefinition",
    "AWS::ECS::Service",
    "AWS::SNS::Topic",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
)


class Resolver:
    """Resolves values inside the templates of one cloud assembly."""

    def __init__(self, stacks: list[Stack]) -> None:
        self.stacks = {s.name: s for s in stacks}

    @classmethod
    def from_synthesized(cls, synthesized) -> Resolver:
        stacks = []
        for name, artifact in synthesized.stack_artifacts().items():
            account, region = artifact["environment"].removeprefix("aws://").split("/")
            stacks.append(Stack(name, account, region, synthesized.templates[name]))
        return cls(stacks)

    def physical_name(self, stack: Stack, logical_id: str) -> str:
        resource = stack.template["Resources"][logical_id]
        explicit = resource.get("Properties", {}).get(NAME_PROPERTIES.get(resource["Type"], ""))
        if explicit is not None:
            return self.resolve(stack.name, explicit)
        generated = f"{stack.name}-{logical_id}"
        if resource["Type"] == "AWS::ECR::Repository":
            generated = generated.lower()
        return generated

    def ref(self, stack: Stack, name: str) -> str:
        pseudo = {
            "AWS::Region": stack.region,
            "AWS::AccountId": stack.account,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::Partition": "aws",
            "AWS::StackName": stack.name,
            "AWS::StackId": self.stack_id(stack),
        }
        if name in pseudo:
            return pseudo[name]
        resource_type = stack.template["Resources"][name]["Type"]
        if resource_type in ARN_REFS:
            return self.arn(stack, name)
        return self.physical_name(stack, name)

    @staticmethod
    def stack_id(stack: Stack) -> str:
        digest = hashlib.sha256(stack.name.encode()).hexdigest()
        return (
            f"arn:aws:cloudformation:{stack.region}:{stack.account}:stack/{stack.name}/"
            f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        )

    def arn(self, stack: Stack, logical_id: str) -> str:
        resource = stack.template["Resources"][logical_id]
        resource_type, name = resource["Type"], self.physical_name(stack, logical_id)
        ecs = f"arn:aws:ecs:{stack.region}:{stack.account}"
        if resource_type == "AWS::ECS::TaskDefinition":
            return f"{ecs}:task-definition/{name}:1"
        if resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            full_name = self.get_att(stack, logical_id, "LoadBalancerFullName")
            return f"arn:aws:elasticloadbalancing:{stack.region}:{stack.account}:loadbalancer/{full_name}"
        if resource_type == "AWS::ECS::Service":
            # Ref of a service is its ARN, which names its cluster.
            return f"{ecs}:service/{self.resolve(stack.name, resource['Properties']['Cluster'])}/{name}"
        prefix = {
            "AWS::ECR::Repository": f"arn:aws:ecr:{stack.region}:{stack.account}:repository/",
            "AWS::IAM::Role": f"arn:aws:iam::{stack.account}:role/",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{stack.region}:{stack.account}:log-group:",
            "AWS::S3::Bucket": "arn:aws:s3:::",
            "AWS::ECS::Cluster": f"{ecs}:cluster/",
            "AWS::KMS::Key": f"arn:aws:kms:{stack.region}:{stack.account}:key/",
            "AWS::SNS::Topic": f"arn:aws:sns:{stack.region}:{stack.account}:",
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{stack.region}:{stack.account}:alarm:",
            "AWS::Lambda::Function": f"arn:aws:lambda:{stack.region}:{stack.account}:function:",
            "AWS::CodeBuild::Project": f"arn:aws:codebuild:{stack.region}:{stack.account}:project/",
        }
        if resource_type not in prefix:
            raise NotImplementedError(f"Fn::GetAtt Arn of {resource_type}")
        suffix = ":*" if resource_type == "AWS::Logs::LogGroup" else ""
        return prefix[resource_type] + name + suffix

    def get_att(self, stack: Stack, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(stack, logical_id)
        if attribute == "Name" and stack.template["Resources"][logical_id]["Type"] == "AWS::ECS::Service":
            return self.physical_name(stack, logical_id)
        if (
            attribute == "GroupId"
            and stack.template["Resources"][logical_id]["Type"] == "AWS::EC2::SecurityGroup"
        ):
            return "sg-" + hashlib.sha256(f"{stack.name}/{logical_id}".encode()).hexdigest()[:17]
        # What ELB's metrics name a load balancer and a target group by (their ARNs' last parts).
        full_names = {"LoadBalancerFullName": "app", "TargetGroupFullName": "targetgroup"}
        if attribute in full_names:
            digest = hashlib.sha256(f"{stack.name}/{logical_id}".encode()).hexdigest()[:16]
            return f"{full_names[attribute]}/{self.physical_name(stack, logical_id)[:32]}/{digest}"
        if attribute in (
            "CanonicalHostedZoneID",
            "DNSName",
        ):  # a load balancer's, as Route 53 aliases name it
            name = self.physical_name(stack, logical_id)[:32]
            zone = "Z" + hashlib.sha256(f"{stack.region}/elb".encode()).hexdigest()[:13].upper()
            return (
                zone
                if attribute == "CanonicalHostedZoneID"
                else f"{name}-1234567890.{stack.region}.elb.{URL_SUFFIX}"
            )
        if attribute == "RepositoryUri":
            return (
                f"{stack.account}.dkr.ecr.{stack.region}.{URL_SUFFIX}/{self.physical_name(stack, logical_id)}"
            )
        cluster = (
            f"{self.physical_name(stack, logical_id)}.cluster-c0ffee0example.{stack.region}.rds.{URL_SUFFIX}"
        )
        digest = hashlib.sha256(f"{stack.name}/{logical_id}".encode()).hexdigest()
        database = {
            "DBClusterResourceId": f"cluster-{digest[:26].upper()}",
            "Endpoint.Address": cluster,
            "Endpoint.Port": "5432",
            # RDS names the secret it manages rds!cluster-<cluster resource id>; Secrets Manager adds six characters.
            "MasterUserSecret.SecretArn": f"arn:aws:secretsmanager:{stack.region}:{stack.account}:secret:"
            f"rds!cluster-{self.physical_name(stack, logical_id).lower()}-AbCdEf",
        }
        if attribute in database and stack.template["Resources"][logical_id]["Type"] == "AWS::RDS::DBCluster":
            return database[attribute]
        if (
            attribute == "Image"
            and stack.template["Resources"][logical_id]["Type"] == "Custom::ReleasedImage"
        ):
            # As on the stack's first create, before any release: the bootstrap image.
            return self.resolve(
                stack.name, stack.template["Resources"][logical_id]["Properties"]["BootstrapImage"]
            )
        raise NotImplementedError(f"Fn::GetAtt {attribute}")

    def stack_output(self, spec: dict) -> object:
        stack = self.stacks[spec["StackName"]]
        assert stack.region == spec["Region"], "Fn::GetStackOutput names the stack's own region"
        return self.resolve(stack.name, stack.template["Outputs"][spec["OutputName"]]["Value"])

    def resolve(self, stack_name: str, value: object) -> object:
        stack = self.stacks[stack_name]
        if isinstance(value, list):
            return [self.resolve(stack_name, item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(stack, argument)
            if key == "Fn::GetAtt":
                return self.get_att(stack, *argument)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(self.resolve(stack_name, item)) for item in items)
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(stack_name, items)[index]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(stack_name, text)).split(separator)
            if key == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: self.ref(stack, m.group(1)), argument)
            if key == "Fn::GetStackOutput":
                return self.stack_output(argument)
            if key.startswith("Fn::"):
                raise NotImplementedError(key)
        return {k: self.resolve(stack_name, v) for k, v in value.items()}
