"""integ_bake's post-deploy hook: a release during whose first bake a wave-1 alarm fires stops there.

    .venv/bin/python tests/integ/alarm_during_bake.py ASSEMBLY

It releases the sample with ``server.py`` changed (so its image is new) through ``make release``
(tools/operate/release.py), waits until the pipeline's ``Bake-wave-1`` action runs (GetPipelineState), and
sets one of the alarms the first wave's deployment group watches to ALARM (CloudWatch SetAlarmState, which
"temporarily sets the state of an alarm for testing purposes": its next evaluation sets it back). It exits 0
only when the release fails in ``Deploy_to_Production_wave_1`` and never reaches the second wave.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.operate.accounts import operator_aws  # noqa: E402 (after the repository root is importable)
from tools.operate.cdk_commands import ready_assembly  # noqa: E402
from tools.operate.halt import Halt  # noqa: E402
from tools.operate.regional_state import StackResources  # noqa: E402
from tools.plan.release_plan import plan_of  # noqa: E402

FIRST, SECOND = "Deploy_to_Production_wave_1", "Deploy_to_Production_wave_2"
BAKE = "Bake-wave-1"
WAIT_SECONDS = 60 * 60  # for the build and the first wave's deployment to reach the bake
POLL_SECONDS = 15


def changed_sample() -> Path:
    """The sample with a comment added to server.py: a release of its own image."""
    directory = Path(tempfile.mkdtemp(prefix="integ-bake-")) / "source"
    shutil.copytree(ROOT / "sample", directory)
    with (directory / "server.py").open("a") as server:
        server.write(f"# integ_bake: released {time.time():.0f}\n")
    return directory


def bake_running(aws, region: str, pipeline: str) -> bool:
    stages = aws.call("codepipeline", region, "get_pipeline_state", name=pipeline)["stageStates"]
    for stage in stages:
        for action in stage.get("actionStates", ()):
            if stage["stageName"] == FIRST and action["actionName"] == BAKE:
                return action.get("latestExecution", {}).get("status") == "InProgress"
    return False


def main(argv: list[str]) -> int:
    directory = argv[0]
    assembly = ready_assembly(directory)
    aws = operator_aws(assembly, os.environ)
    (bake,) = [b for b in plan_of(assembly).bakes if b.stage == FIRST]
    (action,) = [a for a in plan_of(assembly).deploy_actions if a.stage == FIRST]
    pipeline = Halt(assembly, aws, lambda _: None)
    release = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tools/operate/release.py"),
            directory,
            "--source",
            str(changed_sample()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + WAIT_SECONDS
    while not bake_running(pipeline.aws, pipeline.stack.region, pipeline.pipeline):
        if release.poll() is not None or time.monotonic() > deadline:
            print(release.communicate()[0])
            print(f"!!! {BAKE} never ran")
            return 1
        time.sleep(POLL_SECONDS)
    stack = assembly.stacks[action.stack]
    regional = aws.of(stack.account)
    resources = StackResources.read(regional, stack)
    group = regional.call(
        "codedeploy",
        stack.region,
        "get_deployment_group",
        applicationName=resources.one("AWS::CodeDeploy::Application"),
        deploymentGroupName=resources.one("AWS::CodeDeploy::DeploymentGroup"),
    )["deploymentGroupInfo"]
    alarm = group["alarmConfiguration"]["alarms"][0]["name"]
    regional.call(
        "cloudwatch",
        stack.region,
        "set_alarm_state",
        AlarmName=alarm,
        StateValue="ALARM",
        StateReason="integ_bake: an alarm raised during the first wave's bake",
    )
    print(f"==> {alarm} ({', '.join(bake.regions)}) set to ALARM during {BAKE}")
    out, _ = release.communicate()
    print(out)
    stopped = f"stage {FIRST}: Failed" in out and SECOND not in out
    return 0 if release.returncode != 0 and stopped else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
