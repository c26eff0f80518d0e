"""Every deployment region gets a complete support stack (default and six-region configurations)."""

from __future__ import annotations

import json

from template_queries import (
    intrinsic_calls,
    only,
    props,
    resources,
    service_task_definition,
    service_task_definition_id,
)


def each_region(synthesized):
    for region in synthesized.config.regions:
        yield region, synthesized.regional(region)


def test_one_regional_stack_per_region_with_an_explicit_environment(synthesized):
    artifacts = synthesized.stack_artifacts()
    app_name, account = synthesized.config.app_name, synthesized.config.account
    for region in synthesized.config.regions:
        artifact = artifacts[f"{app_name}-{region}"]
        assert artifact["environment"] == f"aws://{account}/{region}"
    for region in synthesized.config.staging_regions:
        assert artifacts[f"{app_name}-staging-{region}"]["environment"] == f"aws://{account}/{region}"
    assert len(artifacts) == len(synthesized.config.regions) + len(synthesized.config.staging_regions) + 1


def subnet_kind(subnet: dict) -> str:
    """``Public``, ``Private`` or ``Isolated``: the subnet type CDK tags it with."""
    (kind,) = [t["Value"] for t in subnet["Properties"]["Tags"] if t["Key"] == "aws-cdk:subnet-type"]
    return kind


def test_vpc_spans_two_zones_named_by_cloudformation(synthesized):
    for region, template in each_region(synthesized):
        only(template, "AWS::EC2::VPC")
        subnets = resources(template, "AWS::EC2::Subnet").values()
        zones = sorted(json.dumps(s["Properties"]["AvailabilityZone"]) for s in subnets)
        expected = [json.dumps({"Fn::Select": [i, {"Fn::GetAZs": region}]}) for i in (0, 0, 1, 1)]
        assert zones == expected, region
        public = [s for s in subnets if subnet_kind(s) == "Public"]
        assert len(public) == 2
        # Only the NAT gateway's Elastic IP and the load balancer are public there, by their own addresses.
        assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)
        assert resources(template, "AWS::EC2::NatGateway")


def test_no_zone_name_is_written_down(synthesized):
    for region, template in each_region(synthesized):
        text = json.dumps(template)
        for suffix in "abcdef":
            assert f'"{region}{suffix}"' not in text


def test_cluster_and_fargate_service_follow_the_task_definition_family(synthesized):
    service_settings = synthesized.config.service
    for region, template in each_region(synthesized):
        only(template, "AWS::ECS::Cluster")
        task_definition = service_task_definition(template)
        service = props(template, "AWS::ECS::Service")
        assert service["LaunchType"] == "FARGATE"
        assert service["DeploymentController"] == {"Type": "CODE_DEPLOY"}
        # The family name (latest revision), not the revision CloudFormation registered;
        # the service is created after the task definition it names.
        assert service["TaskDefinition"] == task_definition["Family"]
        task_definition_id = service_task_definition_id(template)
        service_id, _ = only(template, "AWS::ECS::Service")
        assert task_definition_id in template["Resources"][service_id]["DependsOn"]
        assert isinstance(task_definition["Family"], str)
        assert service["DesiredCount"] == service_settings.desired_count
        network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"
        private_subnets = {
            lid for lid, s in resources(template, "AWS::EC2::Subnet").items() if subnet_kind(s) == "Private"
        }
        assert {ref["Ref"] for ref in network["Subnets"]} == private_subnets, region
        assert task_definition["RequiresCompatibilities"] == ["FARGATE"]
        assert task_definition["Cpu"] == str(service_settings.cpu)
        assert task_definition["Memory"] == str(service_settings.memory_mib)


def test_container_logs_to_the_regions_log_group_with_retention(synthesized):
    """Every log group has a retention: a month for the application, a year for security logs."""
    security = ("ServiceNetworkFlowLogs", "WebFirewallLogs")  # tests/test_security_logs.py: all of them
    for region, template in each_region(synthesized):
        log_groups = resources(template, "AWS::Logs::LogGroup")
        assert {lid: g["Properties"]["RetentionInDays"] for lid, g in log_groups.items()} == {
            lid: 365 if lid.startswith(security) else 30 for lid in log_groups
        }
        (container,) = service_task_definition(template)["ContainerDefinitions"]
        options = container["LogConfiguration"]["Options"]
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"
        assert options["awslogs-group"]["Ref"] in log_groups
        assert options["awslogs-region"] == region


def test_load_balancer_has_production_and_test_listeners_on_blue(synthesized):
    settings = synthesized.config.service
    for region, template in each_region(synthesized):
        assert props(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Scheme"] == "internet-facing"
        listeners = {
            listener["Properties"]["Port"]: listener["Properties"]
            for listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
        }
        assert sorted(listeners) == sorted([80, settings.test_listener_port]), region
        blue_id = next(
            lid for lid in resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup") if "Blue" in lid
        )
        for listener in listeners.values():
            assert listener["DefaultActions"] == [{"TargetGroupArn": {"Ref": blue_id}, "Type": "forward"}]


def test_test_listener_admits_only_the_vpc(synthesized):
    test_port = synthesized.config.service.test_listener_port
    for region, template in each_region(synthesized):
        ingress = [
            rule
            for sg in resources(template, "AWS::EC2::SecurityGroup").values()
            for rule in sg["Properties"].get("SecurityGroupIngress", [])
        ]
        open_ports = {rule["FromPort"] for rule in ingress if rule.get("CidrIp") == "0.0.0.0/0"}
        assert open_ports == {80}
        vpc_id, _ = only(template, "AWS::EC2::VPC")
        nat_addresses = [
            {"Fn::Join": ["", [{"Fn::GetAtt": [eip_id, "PublicIp"]}, "/32"]]}
            for eip_id in resources(template, "AWS::EC2::EIP")
        ]
        assert nat_addresses, region
        sources = [rule["CidrIp"] for rule in ingress if rule["FromPort"] == test_port]
        # The VPC's own range, and its NAT gateways' addresses (how private subnets reach the public ALB).
        assert sorted(map(json.dumps, sources)) == sorted(
            map(json.dumps, [{"Fn::GetAtt": [vpc_id, "CidrBlock"]}, *nat_addresses])
        )


def test_blue_and_green_target_groups_probe_the_container(synthesized):
    settings = synthesized.config.service
    for region, template in each_region(synthesized):
        groups = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
        assert len(groups) == 2, region
        assert sorted("Blue" in lid for lid in groups) == [False, True]
        for group in groups.values():
            p = group["Properties"]
            assert (p["TargetType"], p["Port"], p["Protocol"]) == ("ip", settings.container_port, "HTTP")
            assert p["HealthCheckPath"] == settings.health_check_path


def test_service_is_registered_on_the_blue_target_group_by_container_name_and_port(synthesized):
    settings = synthesized.config.service
    for _region, template in each_region(synthesized):
        blue_id = next(
            lid for lid in resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup") if "Blue" in lid
        )
        assert props(template, "AWS::ECS::Service")["LoadBalancers"] == [
            {
                "ContainerName": settings.container_name,
                "ContainerPort": settings.container_port,
                "TargetGroupArn": {"Ref": blue_id},
            }
        ]
        (container,) = service_task_definition(template)["ContainerDefinitions"]
        assert container["Name"] == settings.container_name
        assert container["PortMappings"][0]["ContainerPort"] == settings.container_port


def test_each_region_has_its_own_image_repository(synthesized):
    names = set()
    for region, template in each_region(synthesized):
        repository_id, _ = only(template, "AWS::ECR::Repository")
        execution_policy = json.dumps(
            [
                p["Properties"]["PolicyDocument"]
                for p in resources(template, "AWS::IAM::Policy").values()
                if "ExecutionRole" in json.dumps(p["Properties"]["Roles"])
            ]
        )
        assert repository_id in execution_policy, f"{region}: tasks can pull from the region's repository"
        names.add(json.dumps(props(template, "AWS::ECR::Repository").get("RepositoryName")))
    assert len(names) == len(synthesized.config.regions)


def test_codedeploy_blue_green_group_uses_both_target_groups_and_listeners(synthesized):
    for region, template in each_region(synthesized):
        application_id, application = only(template, "AWS::CodeDeploy::Application")
        assert application["Properties"]["ComputePlatform"] == "ECS"
        group = props(template, "AWS::CodeDeploy::DeploymentGroup")
        assert group["ApplicationName"] == {"Ref": application_id}
        assert group["DeploymentStyle"] == {
            "DeploymentOption": "WITH_TRAFFIC_CONTROL",
            "DeploymentType": "BLUE_GREEN",
        }
        service_id, _ = only(template, "AWS::ECS::Service")
        cluster_id, _ = only(template, "AWS::ECS::Cluster")
        assert group["ECSServices"] == [
            {"ClusterName": {"Ref": cluster_id}, "ServiceName": {"Fn::GetAtt": [service_id, "Name"]}}
        ]
        pair = group["LoadBalancerInfo"]["TargetGroupPairInfoList"]
        assert len(pair) == 1
        group_ids = {tg["Name"]["Fn::GetAtt"][0] for tg in pair[0]["TargetGroups"]}
        assert group_ids == set(resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")), region
        listeners = resources(template, "AWS::ElasticLoadBalancingV2::Listener")
        routes = {
            name: listeners[route["ListenerArns"][0]["Ref"]]["Properties"]["Port"]
            for name, route in (
                ("prod", pair[0]["ProdTrafficRoute"]),
                ("test", pair[0]["TestTrafficRoute"]),
            )
        }
        assert routes == {"prod": 80, "test": synthesized.config.service.test_listener_port}
        assert group["AutoRollbackConfiguration"]["Enabled"] is True
        assert set(group["AutoRollbackConfiguration"]["Events"]) >= {
            "DEPLOYMENT_FAILURE",
            "DEPLOYMENT_STOP_ON_REQUEST",
        }


def test_names_are_generated_and_explicit_only_where_the_pipeline_is_elsewhere(synthesized):
    home = synthesized.config.home_region
    for region, template in each_region(synthesized):
        application = props(template, "AWS::CodeDeploy::Application")
        group = props(template, "AWS::CodeDeploy::DeploymentGroup")
        if region == home:
            assert "ApplicationName" not in application
            assert "DeploymentGroupName" not in group
        else:
            # CDK-generated (stack name + path hash), so two copies of the app can coexist.
            assert application["ApplicationName"].startswith(f"{synthesized.config.app_name}-{region}")
            assert group["DeploymentGroupName"].startswith(f"{synthesized.config.app_name}-{region}")


def test_cross_region_stacks_own_the_deploy_action_role(synthesized):
    home, account = synthesized.config.home_region, synthesized.config.account
    for region, template in each_region(synthesized):
        roles = {
            lid: r["Properties"]
            for lid, r in resources(template, "AWS::IAM::Role").items()
            if "DeployActionRole" in lid
        }
        if region == home:
            assert roles == {}
            continue
        (role,) = roles.values()
        (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        assert json.dumps(statement["Principal"]).count(f":iam::{account}:root") == 1
        assert role["RoleName"].startswith(f"{synthesized.config.app_name}-{region}")


def test_cross_region_stacks_hold_the_pipelines_artifact_bucket(synthesized):
    home = synthesized.config.home_region
    for region, template in each_region(synthesized):
        buckets = [
            lid for lid in resources(template, "AWS::S3::Bucket") if lid.startswith("PipelineArtifacts")
        ]
        assert len(buckets) == (0 if region == home else 1), region


def test_regional_stacks_never_import_values(synthesized):
    for _region, template in each_region(synthesized):
        assert intrinsic_calls(template, "Fn::ImportValue") == []
        assert intrinsic_calls(template, "Fn::GetStackOutput") == []
