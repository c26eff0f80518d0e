"""Custom resource: deletion protection on, once everything else of the regional stack exists.

The load balancer and the database cluster have no deletion protection in the template: a protected
resource cannot be deleted, so a failed first create of the stack could not roll back (it would end in
ROLLBACK_FAILED, and `cdk deploy` could not retry it). This resource depends on every other resource of
the stack, so CloudFormation creates it last; then, and only then, it turns protection on.

- Create / Update: turn protection on for LoadBalancerArns and DatabaseClusters. If a call fails, what
  this request turned on is turned off again and the request FAILS (the stack's rollback then finds
  nothing protected).
- Delete while the stack's creation rolls back (its status ROLLBACK_IN_PROGRESS, which only a failed
  create has: CloudFormation, "Stack status codes"): turn protection off, so the rollback can delete
  them. CloudFormation also sends Delete for a resource whose Create failed or was cancelled.
- Delete at any other time (the stack is deleted, UPDATE_ROLLBACK of the update that added this
  resource): leave protection as it is; `make destroy` turns it off deliberately, and an update's
  rollback puts the previous template back.
"""

from __future__ import annotations

try:  # a module of the package here (tests); at the top of the function's code in Lambda
    from . import cfn_response
except ImportError:
    import cfn_response

CREATE_ROLLING_BACK = "ROLLBACK_IN_PROGRESS"
PHYSICAL_ID = "deletion-protection"


def boto3_client(name):
    import boto3  # noqa: PLC0415 (in Lambda's runtime; tests pass stubbed clients)

    return boto3.client(name)


class Protection:
    """Switches the protection of the given load balancers and clusters (botocore clients injected)."""

    def __init__(self, elbv2, rds) -> None:
        self.elbv2, self.rds = elbv2, rds

    def switch(self, kind: str, name: str, *, enabled: bool) -> None:
        if kind == "load balancer":
            self.elbv2.modify_load_balancer_attributes(
                LoadBalancerArn=name,
                Attributes=[{"Key": "deletion_protection.enabled", "Value": str(enabled).lower()}],
            )
        else:
            self.rds.modify_db_cluster(
                DBClusterIdentifier=name, DeletionProtection=enabled, ApplyImmediately=True
            )
        print(f"{kind} {name}: deletion protection {'on' if enabled else 'off'}", flush=True)

    def turn_on(self, targets: list[tuple[str, str]]) -> None:
        """All on, or (after turning off again what this call turned on) the first error raised."""
        done: list[tuple[str, str]] = []
        try:
            for kind, name in targets:
                self.switch(kind, name, enabled=True)
                done.append((kind, name))
        except Exception:
            for kind, name in reversed(done):
                self.switch(kind, name, enabled=False)
            raise

    def turn_off(self, targets: list[tuple[str, str]]) -> None:
        for kind, name in targets:
            self.switch(kind, name, enabled=False)


def targets(properties: dict) -> list[tuple[str, str]]:
    return [("load balancer", arn) for arn in properties.get("LoadBalancerArns", [])] + [
        ("database", identifier) for identifier in properties.get("DatabaseClusters", [])
    ]


def stack_status(cloudformation, stack_id: str) -> str:
    (stack,) = cloudformation.describe_stacks(StackName=stack_id)["Stacks"]
    return stack["StackStatus"]


def on_event(event, context, *, elbv2=None, rds=None, cloudformation=None, respond=cfn_response.respond):
    physical_id = event.get("PhysicalResourceId", PHYSICAL_ID)
    try:
        protection = Protection(elbv2 or boto3_client("elbv2"), rds or boto3_client("rds"))
        wanted = targets(event["ResourceProperties"])
        if event["RequestType"] in ("Create", "Update"):
            protection.turn_on(wanted)
            reason = f"deletion protection on for {len(wanted)} resource(s)"
            physical_id = PHYSICAL_ID
        else:
            status = stack_status(cloudformation or boto3_client("cloudformation"), event["StackId"])
            if status == CREATE_ROLLING_BACK:
                protection.turn_off(wanted)
                reason = "the stack's creation rolls back: deletion protection off so that it can"
            else:
                reason = f"the stack is {status}: deletion protection left as it is"
    except Exception as error:  # CloudFormation must always hear back, or it waits an hour
        respond(
            event, cfn_response.FAILED, physical_id=physical_id, reason=f"{type(error).__name__}: {error}"
        )
        return
    respond(event, cfn_response.SUCCESS, physical_id=physical_id, reason=reason)
