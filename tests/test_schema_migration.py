"""The AfterInstall hook runs the migration in the released task definition and reports its result.

Its AWS calls go through botocore clients behind Stubbers, so every request
and response is checked against the ECS and CodeDeploy API models. The last
test follows a release end to end: the offline build of the database
configuration writes each region's task definition, CodeDeploy registers it,
and the region's own hook runs exactly that revision, with the region's image.
"""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber
from cfn_resolver import Resolver
from conftest import MIGRATION_COMMAND, offline_client
from release_build import run_build
from template_queries import resources

from release.hooks import run_migration as hook

REGION = "eu-west-2"
DEPLOYMENT = "d-MIGRATE01"
EVENT = {"DeploymentId": DEPLOYMENT, "LifecycleEventHookExecutionId": "hook-execution-1"}
TASK_DEFINITION = f"arn:aws:ecs:{REGION}:111111111111:task-definition/webapp-family:8"
# The migration's own revision of the green task definition, with the master credentials.
MIGRATION_TASK_DEFINITION = f"arn:aws:ecs:{REGION}:111111111111:task-definition/webapp-family-migration:3"
MASTER_SECRET = f"arn:aws:secretsmanager:{REGION}:111111111111:secret:rds!cluster-0f1e2d3c-AbCdEf"
MIGRATION_ROLE = "arn:aws:iam::111111111111:role/webapp-migration-execution"
TASK = f"arn:aws:ecs:{REGION}:111111111111:task/webapp-cluster/0123456789abcdef0123456789abcdef"
# The project's bootstrap image as the CDK CLI publishes it (a container asset of the CDK bootstrap stack).
BOOTSTRAP_IMAGE = (
    "111111111111.dkr.ecr.eu-west-2.amazonaws.com/cdk-hnb659fds-container-assets-111111111111-eu-west-2:"
    + "cd" * 32
)
ENVIRONMENT = {
    "CLUSTER": "webapp-cluster",
    "SERVICE": "webapp-service",
    "CONTAINER": "web",
    "COMMAND": json.dumps(MIGRATION_COMMAND),
    "SUBNETS": "subnet-0a,subnet-0b",
    "SECURITY_GROUP": "sg-0migration",
    "TIMEOUT_MINUTES": "10",
    "LOG_GROUP": "webapp-logs",
    "LOG_PREFIX": "web",
    "MIGRATION_FAMILY": "webapp-family-migration",
    "MIGRATION_EXECUTION_ROLE": MIGRATION_ROLE,
    "MASTER_SECRET": MASTER_SECRET,
    "BOOTSTRAP_IMAGE": BOOTSTRAP_IMAGE,
}


def green_definition(arn: str, container: str) -> dict:
    """A task definition as DescribeTaskDefinition answers for the service's revision (no credentials in it)."""
    return {
        "taskDefinitionArn": arn,
        "family": arn.rsplit("/", 1)[1].split(":", maxsplit=1)[0],
        "revision": int(arn.rsplit(":", 1)[1]),
        "status": "ACTIVE",
        "taskRoleArn": "arn:aws:iam::111111111111:role/webapp-task",
        "executionRoleArn": "arn:aws:iam::111111111111:role/webapp-execution",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "compatibilities": ["EC2", "FARGATE"],
        "cpu": "256",
        "memory": "512",
        "registeredAt": "2026-12-07T10:00:00Z",
        "containerDefinitions": [
            {
                "name": container,
                "image": "111111111111.dkr.ecr.eu-west-2.amazonaws.com/webapp@sha256:" + "ab" * 32,
                "user": "10001",
                "environment": [
                    {"name": "DB_HOST", "value": "db.example"},
                    {"name": "DB_USER", "value": "app_user"},
                    {"name": "DB_AUTH", "value": "iam"},
                ],
            }
        ],
    }


class Clock:
    """Time that moves only when the hook sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Cloud:
    """Stubbed ECS and CodeDeploy clients of one region, with the calls a release makes queued on them."""

    def __init__(self, region: str = REGION, environment: dict[str, str] = ENVIRONMENT) -> None:
        self.environment = environment
        self.ecs, self.codedeploy = offline_client("ecs", region), offline_client("codedeploy", region)
        self.ecs_stub, self.codedeploy_stub = Stubber(self.ecs), Stubber(self.codedeploy)
        self.clock = Clock()

    def green_task_set(self, task_definition: str = TASK_DEFINITION) -> None:
        env = self.environment
        target = f"{env['CLUSTER']}:{env['SERVICE']}"
        self.codedeploy_stub.add_response(
            "list_deployment_targets", {"targetIds": [target]}, {"deploymentId": DEPLOYMENT}
        )
        task_sets = [
            {"identifer": "ecs-svc/1111", "taskSetLabel": "Blue", "trafficWeight": 100.0},
            {"identifer": "ecs-svc/2222", "taskSetLabel": "Green", "trafficWeight": 0.0},
        ]
        self.codedeploy_stub.add_response(
            "get_deployment_target",
            {
                "deploymentTarget": {
                    "deploymentTargetType": "ECSTarget",
                    "ecsTarget": {"taskSetsInfo": task_sets},
                }
            },
            {"deploymentId": DEPLOYMENT, "targetId": target},
        )
        self.ecs_stub.add_response(
            "describe_task_sets",
            {"taskSets": [{"id": "ecs-svc/2222", "taskDefinition": task_definition}]},
            {"cluster": env["CLUSTER"], "service": env["SERVICE"], "taskSets": ["ecs-svc/2222"]},
        )
        self.registers(task_definition)

    def registers(self, green: str = TASK_DEFINITION, *, image: str | None = None) -> None:
        """The migration's revision: ``green`` (its container running ``image``, else a release) with the master
        user's name and password from its secret."""
        env = self.environment
        described = green_definition(green, env["CONTAINER"])
        if image is not None:
            described["containerDefinitions"][0]["image"] = image
        self.ecs_stub.add_response(
            "describe_task_definition", {"taskDefinition": described}, {"taskDefinition": green}
        )
        (container,) = described["containerDefinitions"]
        expected = {
            "family": env["MIGRATION_FAMILY"],
            "taskRoleArn": described["taskRoleArn"],
            "executionRoleArn": env["MIGRATION_EXECUTION_ROLE"],
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [
                {
                    **container,
                    "environment": [{"name": "DB_HOST", "value": "db.example"}],
                    "secrets": [
                        {"name": "DB_USER", "valueFrom": f"{env['MASTER_SECRET']}:username::"},
                        {"name": "DB_PASSWORD", "valueFrom": f"{env['MASTER_SECRET']}:password::"},
                    ],
                }
            ],
        }
        self.ecs_stub.add_response(
            "register_task_definition",
            {"taskDefinition": {"taskDefinitionArn": MIGRATION_TASK_DEFINITION}},
            expected,
        )
        self.registered = True

    def deregisters(self) -> None:
        self.ecs_stub.add_response(
            "deregister_task_definition",
            {"taskDefinition": {"taskDefinitionArn": MIGRATION_TASK_DEFINITION, "status": "INACTIVE"}},
            {"taskDefinition": MIGRATION_TASK_DEFINITION},
        )

    def run_task(
        self,
        task_definition: str = MIGRATION_TASK_DEFINITION,
        *,
        started: bool = True,
        started_by: str = f"migration-{DEPLOYMENT}",
    ) -> None:
        env = self.environment
        response = (
            {"tasks": [{"taskArn": TASK, "lastStatus": "PROVISIONING"}], "failures": []}
            if started
            else {"tasks": [], "failures": [{"reason": "RESOURCE:ENI", "detail": "no free addresses"}]}
        )
        self.ecs_stub.add_response(
            "run_task",
            response,
            {
                "cluster": env["CLUSTER"],
                "taskDefinition": task_definition,
                "launchType": "FARGATE",
                "count": 1,
                "startedBy": started_by,
                "networkConfiguration": {
                    "awsvpcConfiguration": {
                        "subnets": env["SUBNETS"].split(","),
                        "securityGroups": [env["SECURITY_GROUP"]],
                        "assignPublicIp": "DISABLED",
                    }
                },
                "overrides": {
                    "containerOverrides": [{"name": env["CONTAINER"], "command": json.loads(env["COMMAND"])}]
                },
            },
        )

    def task_state(self, status: str | None, exit_code: int | None = None, reason: str | None = None) -> None:
        """What DescribeTasks answers next; ``None``: the task is not listed yet (ECS is eventually consistent)."""
        if status is None:
            self.ecs_stub.add_response(
                "describe_tasks", {"tasks": []}, {"cluster": self.environment["CLUSTER"], "tasks": [TASK]}
            )
            return
        container = {
            "name": self.environment["CONTAINER"],
            **({} if exit_code is None else {"exitCode": exit_code}),
        }
        task = {"taskArn": TASK, "lastStatus": status, "containers": [container]}
        if reason:
            task["stoppedReason"] = reason
        self.ecs_stub.add_response(
            "describe_tasks", {"tasks": [task]}, {"cluster": self.environment["CLUSTER"], "tasks": [TASK]}
        )

    def keeps_running_past_the_timeout(self) -> None:
        """The green task set and a migration task that is still RUNNING at every poll until the deadline."""
        self.green_task_set()
        self.run_task()
        for _ in range(int(self.environment["TIMEOUT_MINUTES"]) * 60 // hook.POLL_SECONDS):
            self.task_state("RUNNING")

    def stops_the_task(self) -> None:
        self.ecs_stub.add_response(
            "stop_task",
            {"task": {"taskArn": TASK, "lastStatus": "STOPPING"}},
            {
                "cluster": self.environment["CLUSTER"],
                "task": TASK,
                "reason": "migration_timeout_minutes passed",
            },
        )

    def reports(self, status: str) -> None:
        if getattr(self, "registered", False):
            self.deregisters()  # the migration's revision, after the run (whatever its end)
        self.codedeploy_stub.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"]},
            {
                "deploymentId": DEPLOYMENT,
                "lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"],
                "status": status,
            },
        )

    def run_hook(self, monkeypatch) -> str:
        for name, value in self.environment.items():
            monkeypatch.setenv(name, value)
        with self.ecs_stub, self.codedeploy_stub:
            status = hook.handler(
                EVENT,
                None,
                ecs=self.ecs,
                codedeploy=self.codedeploy,
                clock=self.clock,
                sleep=self.clock.sleep,
            )
            self.ecs_stub.assert_no_pending_responses()
            self.codedeploy_stub.assert_no_pending_responses()
        return status


def test_a_migration_that_exits_0_lets_the_deployment_go_on(monkeypatch, capsys):
    cloud = Cloud()
    cloud.green_task_set()
    cloud.run_task()
    cloud.task_state(None)
    cloud.task_state("RUNNING")
    cloud.task_state("STOPPED", exit_code=0)
    cloud.reports("Succeeded")
    assert cloud.run_hook(monkeypatch) == "Succeeded"
    assert cloud.clock.now == 1_000 + 3 * hook.POLL_SECONDS


def test_a_failed_migration_fails_the_deployment_and_says_where_its_output_is(monkeypatch, capsys):
    cloud = Cloud()
    cloud.green_task_set()
    cloud.run_task()
    cloud.task_state("STOPPED", exit_code=3)
    cloud.reports("Failed")
    assert cloud.run_hook(monkeypatch) == "Failed"
    message = capsys.readouterr().out
    assert "exit code 3" in message
    assert "log group webapp-logs, stream web/web/0123456789abcdef0123456789abcdef" in message


def test_a_task_that_never_ran_its_container_fails_with_the_stopped_reason(monkeypatch, capsys):
    cloud = Cloud()
    cloud.green_task_set()
    cloud.run_task()
    cloud.task_state("STOPPED", reason="ResourceInitializationError: unable to pull secrets")
    cloud.reports("Failed")
    assert cloud.run_hook(monkeypatch) == "Failed"
    assert "unable to pull secrets" in capsys.readouterr().out


def test_a_task_that_cannot_start_fails_the_deployment(monkeypatch, capsys):
    cloud = Cloud()
    cloud.green_task_set()
    cloud.run_task(started=False)
    cloud.reports("Failed")
    assert cloud.run_hook(monkeypatch) == "Failed"
    assert "did not start" in capsys.readouterr().out


def test_a_migration_past_its_timeout_is_stopped_and_fails_the_deployment(monkeypatch):
    cloud = Cloud(environment={**ENVIRONMENT, "TIMEOUT_MINUTES": "1"})
    cloud.keeps_running_past_the_timeout()
    cloud.stops_the_task()
    cloud.reports("Failed")
    assert cloud.run_hook(monkeypatch) == "Failed"


def test_an_error_while_waiting_is_retried_and_the_migration_still_counts(monkeypatch, capsys):
    cloud = Cloud()
    cloud.green_task_set()
    cloud.run_task()
    cloud.ecs_stub.add_client_error(
        "describe_tasks", service_error_code="ThrottlingException", http_status_code=400
    )
    cloud.task_state("STOPPED", exit_code=0)
    cloud.reports("Succeeded")
    assert cloud.run_hook(monkeypatch) == "Succeeded"
    assert "retrying: ClientError('An error occurred (ThrottlingException)" in capsys.readouterr().out


def test_a_task_that_cannot_be_stopped_after_a_timeout_still_fails_the_deployment(monkeypatch, capsys):
    cloud = Cloud(environment={**ENVIRONMENT, "TIMEOUT_MINUTES": "1"})
    cloud.keeps_running_past_the_timeout()
    cloud.ecs_stub.add_client_error(
        "stop_task", service_error_code="AccessDeniedException", http_status_code=400
    )
    cloud.reports("Failed")
    assert cloud.run_hook(monkeypatch) == "Failed"
    output = capsys.readouterr().out
    assert "not stopped: AccessDeniedException('An error occurred (AccessDeniedException)" in output
    assert "migration timed out in arn:aws:ecs:" in output


def test_an_error_calling_aws_still_reaches_codedeploy_as_failed(monkeypatch, capsys):
    cloud = Cloud()
    cloud.codedeploy_stub.add_client_error(
        "list_deployment_targets", service_error_code="AccessDeniedException", http_status_code=400
    )
    cloud.reports("Failed")
    assert cloud.run_hook(monkeypatch) == "Failed"
    assert "AccessDeniedException" in capsys.readouterr().out


# --- a release, end to end -------------------------------------------------------------


@pytest.fixture(scope="module")
def database_build(synth_cache, tmp_path_factory, iam_simulator):
    synthesized = synth_cache("database")
    run = run_build(synthesized, tmp_path_factory.mktemp("database-build"), simulator=iam_simulator)
    assert run.result.returncode == 0, run.result.stderr
    return synthesized, run


def hook_environment(resolver: Resolver, stack: str, function_name: str) -> dict[str, str]:
    """The synthesized hook function's environment, as CloudFormation resolves it."""
    template = resolver.stacks[stack].template
    for lid, function in resources(template, "AWS::Lambda::Function").items():
        if resolver.ref(resolver.stacks[stack], lid) == function_name:
            return resolver.resolve(stack, function["Properties"]["Environment"]["Variables"])
    raise AssertionError(f"{stack} has no function {function_name}")


def test_every_regions_migration_runs_the_released_task_definition_with_its_own_image(
    database_build, monkeypatch
):
    synthesized, run = database_build
    resolver = Resolver.from_synthesized(synthesized)
    regions_migrated = []
    for target in run.plan["targets"]:
        region = target["region"]
        registered = json.loads((run.workdir / target["task_definition_file"]).read_text())
        (container,) = registered["containerDefinitions"]
        assert container["image"].startswith(target["repository_uri"] + "@sha256:")
        assert container["image"].split("@")[1] == run.registry_digest(
            target["repository_uri"], "build-7-3f2a9c1e7b40"
        )
        # CodeDeploy registers the file as the family's next revision, then starts the green task set from it.
        (stack,) = [
            name
            for name, template in synthesized.templates.items()
            for td in resources(template, "AWS::ECS::TaskDefinition").values()
            if resolver.resolve(name, td["Properties"]["Family"]) == registered["family"]
        ]
        account = resolver.stacks[stack].account
        revision = f"arn:aws:ecs:{region}:{account}:task-definition/{registered['family']}:9"
        environment = hook_environment(resolver, stack, target["hooks"]["AfterInstall"])
        assert environment["CONTAINER"] == container["name"]
        assert json.loads(environment["COMMAND"]) == MIGRATION_COMMAND
        cloud = Cloud(region, environment)
        cloud.green_task_set(revision)
        cloud.run_task()
        cloud.task_state("STOPPED", exit_code=0)
        cloud.reports("Succeeded")
        assert cloud.run_hook(monkeypatch) == "Succeeded"
        regions_migrated.append((target["task_definition_file"], region))
    expected = [
        *(f"taskdef-staging-{r}.json" for r in synthesized.config.staging_regions),
        *(f"taskdef-{r}.json" for r in synthesized.config.regions),
    ]
    assert sorted(f for f, _ in regions_migrated) == sorted(expected)


def test_the_hook_names_the_regions_own_cluster_subnets_and_security_group(database_build):
    synthesized, _ = database_build
    resolver = Resolver.from_synthesized(synthesized)
    for stack, template in synthesized.templates.items():
        functions = [
            f
            for f in resources(template, "AWS::Lambda::Function").values()
            if f["Properties"].get("Description", "").startswith("CodeDeploy AfterInstall")
        ]
        if not resources(template, "AWS::ECS::Service"):
            assert functions == []
            continue
        (function,) = functions
        variables = function["Properties"]["Environment"]["Variables"]
        (cluster_id,) = resources(template, "AWS::ECS::Cluster")
        assert variables["CLUSTER"] == {"Ref": cluster_id}
        private = {
            lid
            for lid, subnet in resources(template, "AWS::EC2::Subnet").items()
            if {"Key": "aws-cdk:subnet-name", "Value": "Private"} in subnet["Properties"]["Tags"]
        }
        subnets = resolver.resolve(stack, variables["SUBNETS"]).split(",")
        assert subnets == [resolver.ref(resolver.stacks[stack], lid) for lid in sorted(private)]
        group = variables["SECURITY_GROUP"]["Fn::GetAtt"][0]
        assert "MigrationTaskSecurityGroup" in group
