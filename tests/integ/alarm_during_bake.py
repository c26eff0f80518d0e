"""integ_bake's post-deploy hook: a release during whose first bake a wave-1 alarm fires stops there.

    .venv/bin/python tests/integ/alarm_during_bake.py ASSEMBLY

It releases the sample with ``server.py`` changed (so its image is new) through ``make release``
(tools/operate/release.py), waits until the first wave's CodeDeploy deployment keeps blue for the bake
(GetDeployment ``instanceTerminationWaitTimeStarted``: all traffic on the new release), and sets one of the
alarms that deployment group watches to ALARM (CloudWatch SetAlarmState, which "temporarily sets the state of
an alarm for testing purposes": its next evaluation sets it back). It exits 0 only when the release fails in
``Deploy_to_Production_wave_1`` and never reaches the second wave.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hooks import await_during, start_release  # noqa: E402

from tools.operate.accounts import operator_aws  # noqa: E402 (after the repository root is importable)
from tools.operate.cdk_commands import ready_assembly  # noqa: E402
from tools.operate.regional_state import StackResources  # noqa: E402
from tools.operate.release import ecs_target  # noqa: E402
from tools.plan.release_plan import plan_of  # noqa: E402

FIRST, SECOND = "Deploy_to_Production_wave_1", "Deploy_to_Production_wave_2"
WAIT_SECONDS = 60 * 60  # for the build and the first wave's deployment to reach the bake
POLL_SECONDS = 15


def changed_sample() -> Path:
    """The sample with a comment added to server.py: a release of its own image."""
    directory = Path(tempfile.mkdtemp(prefix="integ-bake-")) / "source"
    shutil.copytree(ROOT / "sample", directory)
    with (directory / "server.py").open("a") as server:
        server.write(f"# integ_bake: released {time.time():.0f}\n")
    return directory


def group_info(aws, region: str, application: str, group: str) -> dict:
    return aws.call(
        "codedeploy", region, "get_deployment_group", applicationName=application, deploymentGroupName=group
    )["deploymentGroupInfo"]


def baking(aws, region: str, application: str, group: str, before: str | None) -> str | None:
    """The group's newest deployment (not ``before``, the last release's) while it keeps blue for the bake:
    in progress with its ECS target done (AWS calls ``instanceTerminationWaitTimeStarted`` unreliable in
    aws/containers-roadmap#269 and says to track the target's status instead), or the flag set."""
    deployment = (
        group_info(aws, region, application, group).get("lastAttemptedDeployment", {}).get("deploymentId")
    )
    if not deployment or deployment == before:
        return None
    found = aws.call("codedeploy", region, "get_deployment", deploymentId=deployment)["deploymentInfo"]
    if found["status"] != "InProgress":
        return None
    if found.get("instanceTerminationWaitTimeStarted"):
        return deployment
    target = ecs_target(aws, region, deployment) or {}
    done = target.get("status") == "Succeeded"
    return deployment if done else None


def main(argv: list[str]) -> int:
    directory = argv[0]
    assembly = ready_assembly(directory)
    aws = operator_aws(assembly, os.environ)
    (bake,) = [b for b in plan_of(assembly).bakes if b.stage == FIRST]
    (action,) = [a for a in plan_of(assembly).deploy_actions if a.stage == FIRST]
    stack = assembly.stacks[action.stack]
    regional = aws.of(stack.account)
    resources = StackResources.read(regional, stack)
    application = resources.one("AWS::CodeDeploy::Application")
    group = resources.one("AWS::CodeDeploy::DeploymentGroup")
    info = group_info(regional, stack.region, application, group)
    before = info.get("lastAttemptedDeployment", {}).get("deploymentId")
    release = start_release(directory, "--source", str(changed_sample()))
    deployment = await_during(
        release,
        lambda: baking(regional, stack.region, application, group, before),
        seconds=WAIT_SECONDS,
        poll=POLL_SECONDS,
        missing=f"the first wave's deployment never kept blue for its bake ({bake.minutes} min)",
    )
    if deployment is None:
        return 1
    alarm = info["alarmConfiguration"]["alarms"][0]["name"]
    # SetAlarmState lasts until the alarm's next evaluation, and AWS does not say how often CodeDeploy looks:
    # raised again at every poll while the deployment is in progress (for the bake's length at most).
    for _ in range(bake.minutes * 60 // POLL_SECONDS + 1):
        regional.call(
            "cloudwatch",
            stack.region,
            "set_alarm_state",
            AlarmName=alarm,
            StateValue="ALARM",
            StateReason="integ_bake: an alarm raised during the first wave's bake",
        )
        status = regional.call("codedeploy", stack.region, "get_deployment", deploymentId=deployment)[
            "deploymentInfo"
        ]["status"]
        if status != "InProgress":
            break
        time.sleep(POLL_SECONDS)
    print(
        f"==> {alarm} ({', '.join(bake.regions)}) set to ALARM while {deployment} kept blue; it ended {status}"
    )
    out, _ = release.communicate()
    print(out)
    return 0 if release.returncode != 0 and stopped_in_first_wave(out) else 1


def stopped_in_first_wave(out: str) -> bool:
    """Whether make release's lines say the first wave's stage failed and never name the second's (a stage
    shows once it has started)."""
    return f"stage {FIRST}: Failed" in out and SECOND not in out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
