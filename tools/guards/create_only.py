"""Create-only properties of the resource types a service's deployment depends on.

A change to one of them makes CloudFormation replace the resource (a new ARN or id), so everything that
names it changes too. Copied from CloudFormation's resource schemas (``createOnlyProperties``);
tests/test_create_only.py checks the table against cfn-lint's copy of those schemas, type by type. A type
not listed counts as replaced only when it is removed or changes type.
"""

from __future__ import annotations

CREATE_ONLY = {
    "AWS::ECS::TaskDefinition": (
        "Family",
        "ContainerDefinitions",
        "Cpu",
        "EnableFaultInjection",
        "ExecutionRoleArn",
        "InferenceAccelerators",
        "Memory",
        "NetworkMode",
        "PlacementConstraints",
        "ProxyConfiguration",
        "RequiresCompatibilities",
        "RuntimePlatform",
        "TaskRoleArn",
        "Volumes",
        "PidMode",
        "IpcMode",
        "EphemeralStorage",
    ),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (
        "Port",
        "Protocol",
        "ProtocolVersion",
        "TargetType",
        "VpcId",
        "Name",
        "IpAddressType",
    ),
    "AWS::ElasticLoadBalancingV2::ListenerRule": ("ListenerArn",),
    "AWS::ElasticLoadBalancingV2::Listener": ("LoadBalancerArn",),
    "AWS::EC2::Subnet": (
        "AvailabilityZone",
        "AvailabilityZoneId",
        "CidrBlock",
        "VpcId",
        "OutpostArn",
        "Ipv6Native",
        "Ipv4IpamPoolId",
        "Ipv4NetmaskLength",
        "Ipv6IpamPoolId",
        "Ipv6NetmaskLength",
    ),
    "AWS::EC2::SecurityGroup": ("GroupDescription", "GroupName", "VpcId"),
    "AWS::IAM::Role": ("Path", "RoleName"),
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::Lambda::Function": ("FunctionName", "PackageType", "TenancyConfig"),
}
