"""Each region's own database: its settings, who may reach it, and proof that its data stays in the region."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import CONFIGURATIONS
from template_queries import (
    REGION_CODE,
    only,
    resources,
    service_task_definition,
    service_task_definition_id,
    walk,
)

from constructs.region.regional_database import ENGINE_VERSION
from constructs.settings.database_settings import APP_USER, DatabaseSettings
from constructs.settings.release_config import ConfigError, ReleaseConfig
from tools.cloud_assembly import CloudAssembly
from tools.plan import data_stores

WITH_DATABASE = sorted(name for name, context in CONFIGURATIONS.items() if context.get("database"))
# Resource types that copy, replicate, share or ship data to another place.
DATA_MOVERS = (
    "AWS::RDS::GlobalCluster",
    "AWS::RDS::DBClusterSnapshot",
    "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupVault",
    "AWS::KMS::ReplicaKey",
    "AWS::Logs::SubscriptionFilter",
    "AWS::Logs::Destination",
    "AWS::Logs::DeliveryDestination",
    "AWS::DMS::ReplicationTask",
    "AWS::RDS::DBProxy",
    "AWS::RAM::ResourceShare",
    "AWS::Kinesis::Stream",
    "AWS::KinesisFirehose::DeliveryStream",
)


@pytest.fixture(scope="module", params=WITH_DATABASE)
def with_database(request, synth_cache):
    return synth_cache(request.param)


def data_stacks(synthesized) -> dict[str, dict]:
    """The templates that hold a service (and so a database), by stack name."""
    return {n: t for n, t in synthesized.templates.items() if resources(t, "AWS::ECS::Service")}


def region_of(synthesized, stack: str) -> str:
    return synthesized.stack_artifacts()[stack]["environment"].rsplit("/", 1)[1]


def test_every_region_of_every_environment_has_its_own_cluster(with_database):
    stacks = data_stacks(with_database)
    config = with_database.config
    assert len(stacks) == len(config.regions) + len(config.staging_regions)
    for template in stacks.values():
        only(template, "AWS::RDS::DBCluster")


def test_the_cluster_is_aurora_postgresql_serverless_v2_encrypted_protected_and_backed_up(with_database):
    settings = with_database.config.database
    for stack, template in data_stacks(with_database).items():
        cluster_id, cluster = only(template, "AWS::RDS::DBCluster")
        properties = cluster["Properties"]
        assert properties["Engine"] == "aurora-postgresql"
        assert properties["ServerlessV2ScalingConfiguration"] == {
            "MinCapacity": settings.min_acu,
            "MaxCapacity": settings.max_acu,
        }
        (writer,) = [
            i["Properties"]
            for i in resources(template, "AWS::RDS::DBInstance").values()
            if i["Properties"]["DBClusterIdentifier"] == {"Ref": cluster_id}
        ]
        assert writer["DBInstanceClass"] == "db.serverless"
        assert writer["PubliclyAccessible"] is False
        assert properties["StorageEncrypted"] is True
        key_id = properties["KmsKeyId"]["Fn::GetAtt"][0]
        assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
        # Protected once the stack exists, by its last resource (tests/test_first_create.py).
        assert "DeletionProtection" not in properties
        (protection,) = resources(template, "Custom::DeletionProtection").values()
        assert protection["Properties"]["DatabaseClusters"] == [{"Ref": cluster_id}]
        assert properties["BackupRetentionPeriod"] == settings.backup_days
        assert cluster["DeletionPolicy"] == "Snapshot", f"{stack}: a final snapshot when the stack is deleted"
        # The key outlives the cluster: without it the final snapshot could not be restored.
        assert template["Resources"][key_id]["DeletionPolicy"] in ("Retain", "RetainExceptOnCreate")
        # Master password made, stored and rotated by RDS in the region's Secrets Manager, under the same key.
        assert properties["ManageMasterUserPassword"] is True
        assert properties["MasterUserSecret"] == {"KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]}}
        assert "MasterUserPassword" not in properties


def isolated_subnets(template: dict) -> set[str]:
    """Subnets whose route table has no route at all (so none to the internet or a NAT gateway)."""
    routed = {r["Properties"]["RouteTableId"]["Ref"] for r in resources(template, "AWS::EC2::Route").values()}
    found = set()
    for association in resources(template, "AWS::EC2::SubnetRouteTableAssociation").values():
        if association["Properties"]["RouteTableId"]["Ref"] not in routed:
            found.add(association["Properties"]["SubnetId"]["Ref"])
    return found


def test_the_cluster_lives_in_subnets_without_a_route_to_the_internet(with_database):
    for stack, template in data_stacks(with_database).items():
        (group,) = resources(template, "AWS::RDS::DBSubnetGroup").values()
        subnets = {s["Ref"] for s in group["Properties"]["SubnetIds"]}
        assert len(subnets) >= 2, f"{stack}: two zones at least"
        assert subnets <= isolated_subnets(template), f"{stack}: a database subnet has a route"
        for subnet_id in subnets:
            assert template["Resources"][subnet_id]["Properties"]["MapPublicIpOnLaunch"] is False


def test_only_the_service_the_setup_and_the_migration_reach_the_database_by_security_group(with_database):
    for stack, template in data_stacks(with_database).items():
        properties = only(template, "AWS::RDS::DBCluster")[1]["Properties"]
        (database_group,) = [g["Fn::GetAtt"][0] for g in properties["VpcSecurityGroupIds"]]
        assert "SecurityGroupIngress" not in template["Resources"][database_group]["Properties"]
        rules = [
            r["Properties"]
            for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
            if r["Properties"]["GroupId"] == {"Fn::GetAtt": [database_group, "GroupId"]}
        ]
        sources = {r["SourceSecurityGroupId"]["Fn::GetAtt"][0] for r in rules}
        service = only(template, "AWS::ECS::Service")[1]["Properties"]
        (service_group,) = [
            g["Fn::GetAtt"][0]
            for g in service["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
        ]
        (migration_group,) = [
            lid for lid in resources(template, "AWS::EC2::SecurityGroup") if "Migration" in lid
        ]
        (setup_group,) = [
            lid for lid in resources(template, "AWS::EC2::SecurityGroup") if lid.startswith("DatabaseUsers")
        ]
        assert sources == {service_group, migration_group, setup_group}, stack
        for rule in rules:
            assert not {"CidrIp", "CidrIpv6", "SourcePrefixListId"} & set(rule)
            assert (
                rule["FromPort"]
                == rule["ToPort"]
                == {"Fn::GetAtt": [only(template, "AWS::RDS::DBCluster")[0], "Endpoint.Port"]}
            )
        # The migration task's group admits nothing.
        assert "SecurityGroupIngress" not in template["Resources"][migration_group]["Properties"]


def test_the_service_signs_in_as_its_own_role_with_iam_tokens_and_never_gets_the_master_credentials(
    with_database,
):
    for stack, template in data_stacks(with_database).items():
        cluster_id, cluster = only(template, "AWS::RDS::DBCluster")
        assert cluster["Properties"]["EnableIAMDatabaseAuthentication"] is True
        (container,) = service_task_definition(template)["ContainerDefinitions"]
        environment = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert environment["DB_HOST"] == {"Fn::GetAtt": [cluster_id, "Endpoint.Address"]}
        assert environment["DB_PORT"] == {"Fn::GetAtt": [cluster_id, "Endpoint.Port"]}
        assert (environment["DB_NAME"], environment["DB_USER"], environment["DB_AUTH"]) == (
            "app",
            APP_USER,
            "iam",
        )
        assert environment["DB_REGION"] == region_of(with_database, stack)
        assert "DB_PASSWORD" not in environment
        secrets = {s["Name"] for s in container.get("Secrets", [])}
        assert not secrets & {"DB_USER", "DB_PASSWORD"}, (
            "no master credentials in the service's task definition"
        )
        assert "MasterUserSecret" not in json.dumps(service_task_definition(template))


def test_every_connection_must_use_tls(with_database):
    """Aurora PostgreSQL 16 defaults rds.force_ssl to 0; the cluster's own parameter group sets 1."""
    for stack, template in data_stacks(with_database).items():
        _, cluster = only(template, "AWS::RDS::DBCluster")
        group_id = cluster["Properties"]["DBClusterParameterGroupName"]["Ref"]
        group = template["Resources"][group_id]
        assert group["Type"] == "AWS::RDS::DBClusterParameterGroup", stack
        assert group["Properties"]["Family"] == "aurora-postgresql16"
        assert group["Properties"]["Parameters"] == {"rds.force_ssl": "1"}


def test_the_setup_task_makes_the_services_role_as_the_master_user_before_the_service_starts(with_database):
    for stack, template in data_stacks(with_database).items():
        cluster_id, _ = only(template, "AWS::RDS::DBCluster")
        definitions = {
            lid: d["Properties"]
            for lid, d in resources(template, "AWS::ECS::TaskDefinition").items()
            if lid != service_task_definition_id(template)
        }
        ((setup_id, setup),) = definitions.items()
        (container,) = setup["ContainerDefinitions"]
        assert container["Command"] == ["python", "/srv/database_users.py"]
        assert container["User"] == "10001"
        assert container["ReadonlyRootFilesystem"] is True
        secret = {"Fn::GetAtt": [cluster_id, "MasterUserSecret.SecretArn"]}
        assert {s["Name"]: s["ValueFrom"] for s in container["Secrets"]} == {
            "DB_USER": {"Fn::Join": ["", [secret, ":username::"]]},
            "DB_PASSWORD": {"Fn::Join": ["", [secret, ":password::"]]},
        }
        assert {e["Name"]: e["Value"] for e in container["Environment"]}["APP_USER"] == APP_USER
        ((resource_id, resource),) = resources(template, "Custom::DatabaseUsers").items()
        assert resource["Properties"]["TaskDefinition"] == {"Ref": setup_id}
        # After the database's writer, before the service.
        writer_id, _ = only(template, "AWS::RDS::DBInstance")
        assert writer_id in resource["DependsOn"]
        # ... once the database admits the setup's security group and the task can reach ECR and Secrets
        # Manager (the private subnets' default routes through the NAT gateway).
        (setup_group,) = container_security_groups(template, "DatabaseUsers")
        admits = [
            lid
            for lid, rule in resources(template, "AWS::EC2::SecurityGroupIngress").items()
            if rule["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": [setup_group, "GroupId"]}
        ]
        assert admits
        assert set(admits) <= set(resource["DependsOn"])
        routes = [
            lid
            for lid, route in resources(template, "AWS::EC2::Route").items()
            if "NatGatewayId" in route["Properties"]
        ]
        assert routes
        assert set(routes) <= set(resource["DependsOn"]), stack
        # ... and once ECS may start the task: its execution role and that role's policy exist.
        execution_role = setup["ExecutionRoleArn"]["Fn::GetAtt"][0]
        (policy,) = [
            lid
            for lid, p in resources(template, "AWS::IAM::Policy").items()
            if {"Ref": execution_role} in p["Properties"]["Roles"]
        ]
        assert {execution_role, policy} <= set(resource["DependsOn"]), stack
        service_id, _ = only(template, "AWS::ECS::Service")
        assert resource_id in template["Resources"][service_id]["DependsOn"], stack


def test_the_service_waits_for_the_migrations_execution_role(synth_cache):
    """On the ECS engine a `cdk deploy` of a new task definition runs the migration inside the update."""
    for stack, template in synth_cache("ecs").regional_templates.items():
        service_id, _ = only(template, "AWS::ECS::Service")
        depends = set(template["Resources"][service_id].get("DependsOn", []))
        role = [
            lid for lid in resources(template, "AWS::IAM::Role") if lid.startswith("MigrationExecutionRole")
        ]
        policy = [
            lid for lid in resources(template, "AWS::IAM::Policy") if lid.startswith("MigrationExecutionRole")
        ]
        assert role, stack
        assert policy, stack
        assert {*role, *policy} <= depends, stack


def container_security_groups(template: dict, prefix: str) -> list[str]:
    """Logical ids of the security groups of the construct ``prefix`` (its tasks' own)."""
    return [
        lid
        for lid in resources(template, "AWS::EC2::SecurityGroup")
        if lid.startswith(f"{prefix}TaskSecurityGroup")
    ]


# --- data stays in its region --------------------------------------------------------


def test_no_resource_copies_replicates_or_ships_data_anywhere(with_database):
    for stack, template in with_database.templates.items():
        types = {r["Type"] for r in template["Resources"].values()}
        assert not types & set(DATA_MOVERS), stack
        for bucket in resources(template, "AWS::S3::Bucket").values():
            assert "ReplicationConfiguration" not in bucket.get("Properties", {}), stack
        for cluster in resources(template, "AWS::RDS::DBCluster").values():
            properties = cluster["Properties"]
            assert not {"GlobalClusterIdentifier", "ReplicationSourceIdentifier", "SourceRegion"} & set(
                properties
            )
        for instance in resources(template, "AWS::RDS::DBInstance").values():
            assert "SourceDBInstanceIdentifier" not in instance["Properties"]
        for key in resources(template, "AWS::KMS::Key").values():
            assert not key["Properties"].get("MultiRegion"), stack
        for secret in resources(template, "AWS::SecretsManager::Secret").values():
            assert "ReplicaRegions" not in secret["Properties"], stack


def test_each_regional_template_names_no_region_but_its_own(with_database):
    for stack, template in data_stacks(with_database).items():
        assert set(REGION_CODE.findall(json.dumps(template))) == {region_of(with_database, stack)}


def test_no_other_stack_reads_a_data_store_of_the_region(with_database):
    """Outputs are how another stack (the pipeline) could reach into a region: none names its data."""
    data_types = (
        "AWS::RDS::DBCluster",
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
        "AWS::SecretsManager::Secret",
    )
    for stack, template in data_stacks(with_database).items():
        data = {lid for lid, r in template["Resources"].items() if r["Type"] in data_types}
        for name, output in template.get("Outputs", {}).items():
            referenced = {
                node.get("Ref") or node.get("Fn::GetAtt", [None])[0]
                for node in walk(output["Value"])
                if isinstance(node, dict)
            }
            assert not referenced & data, f"{stack} output {name} exposes {referenced & data}"


def test_the_regions_key_encrypts_only_the_regions_database_and_its_secret(with_database):
    for stack, template in data_stacks(with_database).items():
        cluster = only(template, "AWS::RDS::DBCluster")[1]
        key_id = cluster["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
        users = set()
        for lid, resource in template["Resources"].items():
            if lid == key_id:
                continue
            for node in walk(resource):
                if isinstance(node, dict) and (
                    node.get("Ref") == key_id or node.get("Fn::GetAtt", [None])[0] == key_id
                ):
                    users.add(resource["Type"])
        # The cluster (storage, backups, snapshots, its secret) and the policies that let ECS decrypt the secret
        # for the two tasks that get the master credentials: the database setup's and the migration's.
        assert users == {"AWS::RDS::DBCluster", "AWS::IAM::Policy"}, stack
        policies = {
            lid: p["Properties"]
            for lid, p in resources(template, "AWS::IAM::Policy").items()
            if key_id in json.dumps(p)
        }
        readers = {role["Ref"] for p in policies.values() for role in p["Roles"]}
        assert len(readers) == (2 if with_database.config.database.migration_command else 1), stack
        assert all(
            r.startswith(("DatabaseUsersTaskDefinitionExecutionRole", "MigrationExecutionRole"))
            for r in readers
        )
        for policy in policies.values():
            (statement,) = [s for s in policy["PolicyDocument"]["Statement"] if key_id in json.dumps(s)]
            assert statement["Action"] == "kms:Decrypt"
        key_policy = template["Resources"][key_id]["Properties"]["KeyPolicy"]
        region = region_of(with_database, stack)
        for grant in key_policy["Statement"][1:]:
            assert grant["Condition"] == {
                "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
            }


def test_configurations_without_a_database_have_none(synth_cache):
    for stack, template in synth_cache("default").templates.items():
        assert not resources(template, "AWS::RDS::DBCluster"), stack
        keys = [p["Properties"]["Description"] for p in resources(template, "AWS::KMS::Key").values()]
        expected = ["Encrypts release pipeline artifacts"] if stack.endswith("pipeline") else []
        assert [k for k in keys if k != "Encrypts the release notifications topic"] == expected, stack


# --- settings ----------------------------------------------------------------------------


def config(**context: object) -> ReleaseConfig:
    return ReleaseConfig.from_context({"allow_plain_http": True, **context}, default_account=None)


def refusal(**context: object) -> str:
    with pytest.raises(ConfigError) as raised:
        config(**context)
    assert "\n" not in str(raised.value)
    return str(raised.value)


def test_database_defaults():
    settings = config(database="aurora-postgresql").database
    assert settings == DatabaseSettings(engine="aurora-postgresql")
    assert (settings.backup_days, settings.min_acu, settings.max_acu) == (7, 0, 4)
    assert (settings.migration_command, settings.migration_timeout_minutes) == (None, 10)
    assert config().database.enabled is False


def test_database_settings_from_cdk_json_and_from_flags():
    from_json = config(
        database="aurora-postgresql",
        database_min_acu=0.5,
        database_max_acu=16,
        database_backup_days=35,
        migration_command=["python", "-m", "app.migrate"],
    ).database
    from_flags = config(
        database="aurora-postgresql",
        database_min_acu="0.5",
        database_max_acu="16",
        database_backup_days="35",
        migration_command='["python", "-m", "app.migrate"]',
    ).database
    assert from_json == from_flags
    assert from_json.migration_command == ("python", "-m", "app.migrate")


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"database": "mysql"}, "database: 'mysql' is not allowed; expected one of none, aurora-postgresql"),
        (
            {"database": "aurora-postgresql", "database_min_acu": "0.25"},
            "database_min_acu: 0.25 is not allowed",
        ),
        (
            {"database": "aurora-postgresql", "database_max_acu": "0.5"},
            "database_max_acu: 0.5 is not allowed",
        ),
        (
            {"database": "aurora-postgresql", "database_max_acu": "300"},
            "database_max_acu: 300.0 is not allowed",
        ),
        (
            {"database": "aurora-postgresql", "database_min_acu": "8", "database_max_acu": "4"},
            "database_max_acu: 4.0 is not allowed; expected at least database_min_acu (8)",
        ),
        (
            {"database": "aurora-postgresql", "database_min_acu": "lots"},
            "database_min_acu: 'lots' is not allowed",
        ),
        (
            {"database": "aurora-postgresql", "database_backup_days": "0"},
            "database_backup_days: 0 is not allowed",
        ),
        ({"database": "aurora-postgresql", "database_backup_days": "36"}, "database_backup_days: 36"),
        ({"database": "aurora-postgresql", "migration_command": "python migrate.py"}, "migration_command:"),
        (
            {"database": "aurora-postgresql", "migration_command": "[]"},
            "migration_command: [] is not allowed",
        ),
        ({"database": "aurora-postgresql", "migration_command": '["python", 3]'}, "migration_command:"),
        (
            {
                "database": "aurora-postgresql",
                "migration_command": '["m"]',
                "migration_timeout_minutes": "15",
            },
            "migration_timeout_minutes: 15 is not allowed; expected a whole number from 1 to 14",
        ),
        (
            {"migration_command": '["python", "migrate.py"]'},
            """migration_command: '["python", "migrate.py"]' is not allowed; it applies only with a database""",
        ),
        ({"database_max_acu": "8"}, "database_max_acu: '8' is not allowed; it applies only with a database"),
        (
            {"database": "aurora-postgresql", "container_secrets": '{"DB_PASSWORD": "secretsmanager:x"}'},
            "container_secrets: 'DB_PASSWORD' is not allowed; with a database the container gets",
        ),
    ],
)
def test_bad_database_settings_are_refused_with_one_line(context, expected):
    assert refusal(**context).startswith(expected)


def test_a_migration_without_a_database_is_refused_by_the_settings_class_too():
    with pytest.raises(ConfigError, match=r"migration_command: .* a migration needs a database"):
        DatabaseSettings(migration_command=("python", "migrate.py"))


# --- make plan: the auditor's view -------------------------------------------------------


def test_the_plan_lists_every_regions_data_stores_where_they_live(with_database):
    stores = data_stores.data_stores(CloudAssembly.read(with_database.outdir))
    for stack in data_stacks(with_database):
        region = region_of(with_database, stack)
        kinds = [s.kind.split()[0] for s in stores if s.stack == stack]
        assert kinds.count("database") == 2, f"{stack}: the cluster and its credentials"
        assert {"KMS", "bucket", "image", "logs"} <= set(kinds), stack
        assert {s.region for s in stores if s.stack == stack} == {region}
    assert all(s.leaves_region == () for s in stores)
    text = data_stores.render(stores)
    assert "leaves region: none" in text
    version = ENGINE_VERSION.aurora_postgres_full_version
    assert f"aurora-postgresql {version}, encrypted with DatabaseKey" in text


def test_the_plan_shows_whatever_would_send_data_elsewhere(with_database, tmp_path):
    stack = next(iter(data_stacks(with_database)))
    assembly = CloudAssembly.read(with_database.outdir)
    template = json.loads(json.dumps(assembly.stacks[stack].template))
    bucket = next(iter(resources(template, "AWS::S3::Bucket").values()))
    bucket["Properties"]["ReplicationConfiguration"] = {"Role": "r", "Rules": []}
    template["Resources"]["Ship"] = {"Type": "AWS::Logs::SubscriptionFilter", "Properties": {}}
    changed = replace(assembly.stacks[stack], template=template)
    stores = data_stores.data_stores(replace(assembly, stacks={**assembly.stacks, stack: changed}))
    leaving = {s.kind.split()[0]: s.leaves_region for s in stores if s.leaves_region}
    assert leaving == {"bucket": ("ReplicationConfiguration",), "data": ("AWS::Logs::SubscriptionFilter",)}
