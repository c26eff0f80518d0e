"""Operator commands: the release plan and diagram from cdk.out, bootstrap/deploy guards, the source upload."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import pytest
from botocore.stub import Stubber
from conftest import for_account, offline_client, tool, without_credentials
from doc_samples import samples
from template_queries import only, pipeline_stages, resources, source_upload_rule

from constructs.settings.release_config import CONTEXT_KEYS
from tools.cloud_assembly import CloudAssembly
from tools.operate import cdk_commands as operate
from tools.operate import deploy
from tools.operate.halt import keep_halt
from tools.plan import plan_diagram
from tools.plan.release_plan import described_target, read_plan, render_mermaid, render_svg, render_table

ROOT = Path(__file__).resolve().parent.parent
DIAGRAM_START, DIAGRAM_END = "```mermaid\n", "```\n"


# --- the plan -------------------------------------------------------------------


def test_plan_lists_stages_in_pipeline_order(synthesized):
    plan = read_plan(synthesized.outdir)
    assert [s.name for s in plan.stages] == [s["Name"] for s in pipeline_stages(synthesized.pipeline)]
    assert plan.pipeline_stack.name == f"{synthesized.config.app_name}-pipeline"


def test_plan_shows_every_deploy_action_with_what_it_deploys(synthesized):
    config = synthesized.config
    plan = read_plan(synthesized.outdir)
    production = {a.region: a for a in plan.deploy_actions if a.environment == "production"}
    assert sorted(production) == sorted(config.regions)
    waves = config.production_waves
    wave_of = {r: n for n, wave in enumerate(waves, start=1) for r in wave}
    shifting = config.rollout.traffic_shifting
    for region, action in production.items():
        template = synthesized.regional(region)
        assert action.name == f"Deploy-{region}"
        assert action.wave == wave_of[region]
        # One stage of every wave, in run order; or a stage per wave, named after it.
        if len(waves) == 1:
            assert (action.stage, action.run_order) == ("Deploy_to_Production", 1)
        else:
            assert (action.stage, action.run_order) == (f"Deploy_to_Production_wave_{wave_of[region]}", 1)
        assert action.stack == f"{config.app_name}-{region}"
        _, group = only(template, "AWS::CodeDeploy::DeploymentGroup")
        assert action.engine == "codedeploy"
        # Its kind and construct path, never the name CloudFormation or CDK generates for it.
        assert group["Metadata"]["aws:cdk:path"].endswith("/BlueGreen/DeploymentGroup/Resource")
        assert action.target == "deployment group BlueGreen/DeploymentGroup"
        expected_shift = (
            f"canary {shifting.step_percentage}%, rest after {shifting.step_minutes} min"
            if shifting.mode == "canary"
            else f"linear {shifting.step_percentage}% every {shifting.step_minutes} min"
        )
        kept = config.rollout_for(region).termination_wait_minutes  # a baked wave's region keeps blue longer
        assert action.traffic == f"{expected_shift}; blue kept {kept} min"
    staging = [a for a in plan.deploy_actions if a.stage == "Deploy_to_Staging"]
    assert sorted(a.stack for a in staging) == sorted(
        f"{config.app_name}-staging-{r}" for r in config.staging_regions
    )


def test_plan_shows_the_ecs_engine_its_services_and_their_strategy(synth_cache):
    synthesized = synth_cache("ecs")
    plan = read_plan(synthesized.outdir)
    shown = {(a.stage, a.region): a for a in plan.deploy_actions}
    assert sorted(shown) == [
        ("Deploy_to_Production_wave_1", "eu-west-2"),
        ("Deploy_to_Production_wave_2", "ap-southeast-1"),
        ("Deploy_to_Staging", "eu-west-1"),
    ]
    for (_, region), action in shown.items():
        template = synthesized.templates[action.stack]
        _, service = only(template, "AWS::ECS::Service")
        assert action.engine == "ecs"
        assert service["Metadata"]["aws:cdk:path"].endswith("/Service/Service/Service")
        assert action.target == "ECS service Service/Service"
        baked = action.environment == "production" and region in synthesized.config.baked_regions
        assert action.traffic == f"linear 25% every 2 min; bake {30 if baked else 10} min"
        assert action.stack.endswith(region)
    assert "Deploy-eu-west-2 [ECS]" in render_table(plan)


@pytest.mark.parametrize("configuration", ["default", "ecs"])
def test_the_deploys_column_shows_no_generated_name(synth_cache, configuration):
    """The names CDK generates for cross-region targets, and the logical IDs of CloudFormation-named ones."""
    synthesized = synth_cache(configuration)
    table = render_table(read_plan(synthesized.outdir))
    generated = [
        resource["Properties"][key]
        for template in synthesized.regional_templates.values()
        for resource_type, key in (
            ("AWS::CodeDeploy::DeploymentGroup", "DeploymentGroupName"),
            ("AWS::ECS::Service", "ServiceName"),
        )
        for resource in resources(template, resource_type).values()
        if key in resource["Properties"]
    ]
    assert generated, "a region other than the pipeline's has a generated name"
    for name in generated:
        assert name not in table
    assert "(generated)" not in table
    kind = (
        "deployment group BlueGreen/DeploymentGroup"
        if configuration == "default"
        else "ECS service Service/Service"
    )
    deploys = [line for line in table.splitlines() if line.startswith("  Deploy_to_") and " Deploy-" in line]
    assert deploys
    assert all(kind in line for line in deploys)


def test_without_path_metadata_a_target_is_its_logical_id_and_kind(default_synth):
    stack = CloudAssembly.read(default_synth.outdir).stacks["webapp-eu-west-2"]
    group_id, group = only(stack.template, "AWS::CodeDeploy::DeploymentGroup")
    bare = {**group}
    del bare["Metadata"]
    stripped = replace(stack, template={**stack.template, "Resources": {**stack.resources, group_id: bare}})
    assert described_target(stripped, group_id) == f"deployment group {group_id}"
    assert described_target(stack, group_id) == "deployment group BlueGreen/DeploymentGroup"


def test_plan_lists_stacks_in_deploy_order(synthesized):
    plan = read_plan(synthesized.outdir)
    names = [s.name for s in plan.deploy_order]
    assert names[-1] == f"{synthesized.config.app_name}-pipeline"
    assert sorted(names) == sorted(synthesized.templates)
    for stack in plan.deploy_order:
        artifact = synthesized.stack_artifacts()[stack.name]
        assert artifact["environment"] == f"aws://{stack.account}/{stack.region}"


def test_the_plan_says_how_the_pipeline_handles_releases_started_together(synth_cache):
    assert (
        render_table(read_plan(synth_cache("staged").outdir))
        .splitlines()[0]
        .endswith(", newer releases supersede waiting ones")
    )


def test_plan_table_from_the_command_line(default_synth):
    result = tool("plan/release_plan.py", str(default_synth.outdir))
    assert result.returncode == 0, result.stderr
    assert result.stdout == render_table(read_plan(default_synth.outdir))
    lines = result.stdout.splitlines()
    assert lines[0] == "Release pipeline in webapp-pipeline (111111111111/eu-west-2), releases queued"
    assert (
        "  3. Deploy_to_Production: Deploy-eu-west-2 [CodeDeployToECS], Deploy-ap-southeast-1 [CodeDeployToECS]"
        in lines
    )
    order = lines.index("Stacks in deploy order:")
    assert lines[order + 1 : order + 4] == [
        "  1. webapp-ap-southeast-1 (111111111111/ap-southeast-1)",
        "  2. webapp-eu-west-2 (111111111111/eu-west-2)",
        "  3. webapp-pipeline (111111111111/eu-west-2)",
    ]
    assert lines[order + 5].startswith("Data stores (where each region's data lives")


def test_plan_without_a_synth_says_what_to_do(tmp_path):
    result = tool("plan/release_plan.py", str(tmp_path / "missing"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing' / 'manifest.json'} not found; run `make synth` first"
    ]


# --- the picture --------------------------------------------------------------------


def test_diagram_shows_stages_waves_and_regional_stacks(synthesized):
    diagram = render_mermaid(read_plan(synthesized.outdir))
    assert diagram.startswith("flowchart LR\n")
    for region in synthesized.config.regions:
        assert f'["Deploy-{region}<br/>wave ' in diagram
        assert f'[("{synthesized.config.app_name}-{region}<br/>{region}")]' in diagram
    for stage in pipeline_stages(synthesized.pipeline):
        assert f'{stage["Name"]}["{stage["Name"]}"]' in diagram


def test_picture_is_an_svg_with_every_action_and_stack(synthesized):
    plan = read_plan(synthesized.outdir)
    svg = ElementTree.fromstring(render_svg(plan))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    for action in plan.deploy_actions:
        assert action.name in texts
        assert action.stack in texts
    for stage in plan.stages:
        assert stage.name in texts


def test_the_docs_diagram_matches_the_default_synth(default_synth):
    diagram = render_mermaid(read_plan(default_synth.outdir))
    readme = (ROOT / "docs" / "operating.md").read_text()
    start = readme.index(DIAGRAM_START) + len(DIAGRAM_START)
    assert readme[start : readme.index(DIAGRAM_END, start)] == diagram, (
        "run `make plan` and update docs/operating.md"
    )
    assert (ROOT / "docs" / "release-plan.mmd").read_text() == diagram
    assert (ROOT / "docs" / "release-plan.svg").read_text() == render_svg(read_plan(default_synth.outdir))
    assert "![Release plan](release-plan.svg)" in readme


def recipe(target: str) -> str:
    """The first command of a Makefile target."""
    (line,) = re.findall(
        rf"^{re.escape(target)}:.*\n\t(.*)$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE
    )
    return line


def test_make_plan_draws_under_cdk_out_and_leaves_the_repositorys_drawing_alone():
    assert recipe("plan") == (
        "@$(PYTHON) tools/plan/release_plan.py cdk.out --mermaid cdk.out/release-plan.mmd --svg cdk.out/release-plan.svg"
    )
    assert recipe("plan-diagram") == "@$(PYTHON) tools/plan/plan_diagram.py docs"


def test_the_plan_command_writes_its_drawings_where_it_is_told(default_synth, tmp_path):
    drawn = tmp_path / "cdk.out"
    result = tool(
        "plan/release_plan.py",
        str(default_synth.outdir),
        "--mermaid",
        str(drawn / "release-plan.mmd"),
        "--svg",
        str(drawn / "release-plan.svg"),
    )
    assert result.returncode == 0, result.stderr
    plan = read_plan(default_synth.outdir)
    assert (drawn / "release-plan.mmd").read_text() == render_mermaid(plan)
    assert (drawn / "release-plan.svg").read_text() == render_svg(plan)
    assert result.stdout.endswith(
        f"\nDiagram written to {drawn / 'release-plan.mmd'}\nPicture written to {drawn / 'release-plan.svg'}\n"
    )


def test_make_plan_diagram_draws_the_default_configuration_whatever_cdk_json_says(default_synth, tmp_path):
    """What `make plan-diagram` writes is what the docs test compares with: the default synth's drawing."""
    project = tmp_path / "cdk.json"
    configured = json.loads((ROOT / "cdk.json").read_text())
    configured["context"] |= {"extra_regions": ["us-east-1", "sa-east-1"], "app_name": "shop"}
    project.write_text(json.dumps(configured))
    context = plan_diagram.default_context(project)
    assert {key: context[key] for key in CONTEXT_KEYS if key in context} == {"allow_plain_http": True}
    flags = {key: value for key, value in configured["context"].items() if key.startswith("@")}
    assert flags
    assert {key: context[key] for key in flags} == flags
    mermaid, svg = plan_diagram.draw(tmp_path / "docs", project)
    plan = read_plan(default_synth.outdir)
    assert mermaid.read_text() == render_mermaid(plan)
    assert svg.read_text() == render_svg(plan)


# --- bootstrap, diff, deploy ------------------------------------------------------


def test_bootstrap_prints_every_account_and_region_then_refuses_the_placeholder(synthesized):
    result = tool("operate/cdk_commands.py", "bootstrap", str(synthesized.outdir))
    assert result.returncode == 1
    regions = sorted({*synthesized.config.regions, *synthesized.config.staging_regions})
    command = result.stdout.splitlines()[1].split()
    assert command[:2] == ["cdk", "bootstrap"]
    assert sorted(command[2:]) == sorted(f"aws://111111111111/{r}" for r in regions)
    assert result.stderr.splitlines() == [
        "error: the account is the placeholder 111111111111; export CDK_DEFAULT_ACCOUNT=<your 12-digit account> "
        '(or set "account" in cdk.json) and run the command again'
    ]


@pytest.fixture(scope="module")
def real_account(default_synth, tmp_path_factory):
    """The default assembly as if synthesized for account 123456789012 (only the manifest matters here)."""
    return for_account(default_synth.outdir, tmp_path_factory.mktemp("account"))


@pytest.mark.parametrize(
    ("script", "action"), [("cdk_commands.py", "bootstrap"), ("cdk_commands.py", "diff"), ("deploy.py", None)]
)
def test_commands_without_credentials_fail_with_one_line(real_account, tmp_path, script, action):
    arguments = [action] if action else []
    result = tool(f"operate/{script}", *arguments, str(real_account), env=without_credentials(tmp_path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: no AWS credentials found; configure them (aws configure, AWS_PROFILE or "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and run the command again"
    ]


def test_deploy_runs_regions_in_parallel_then_the_pipeline(synthesized):
    from tools.cloud_assembly import CloudAssembly

    command = operate.cdk_command("deploy", CloudAssembly.read(synthesized.outdir))
    regional = len(synthesized.config.regions) + len(synthesized.config.staging_regions)
    assert command[1:] == [
        "deploy",
        "--all",
        "--app",
        str(synthesized.outdir),
        "--concurrency",
        str(regional),
    ]


# --- something to release ---------------------------------------------------------------


def test_the_source_bucket_is_an_output_for_the_upload_command(default_synth):
    outputs = default_synth.pipeline["Outputs"]
    source_action = pipeline_stages(default_synth.pipeline)[0]["Actions"][0]
    assert outputs["SourceBucketName"]["Value"] == source_action["Configuration"]["S3Bucket"]
    assert source_upload_rule(default_synth.pipeline)["EventPattern"]["detail"]["object"]["key"] == [
        "source.zip"
    ]


def test_the_docs_show_the_real_make_plan_output(default_synth):
    """docs/operating.md's `make plan` block holds the plan of the default synth, release time and cost included."""
    (block,) = [b for b in samples() if b.marker == ("output", "make plan")]
    assert block.path == ROOT / "docs" / "operating.md"
    assert render_table(read_plan(default_synth.outdir)) in block.body, "run make doc-samples"


# --- service-linked roles and approval -------------------------------------------------------------------


class Iam:
    """A stubbed IAM that has some service-linked roles and creates the others when asked."""

    def __init__(self, has: tuple[str, ...], creates: tuple[tuple[str, str], ...] = ()) -> None:
        self.client = offline_client("iam", "eu-west-2")
        self.stub = Stubber(self.client)
        for role in ("AWSServiceRoleForECS", "AWSServiceRoleForElasticLoadBalancing"):
            if role in has:
                self.stub.add_response("get_role", {"Role": iam_role(role)}, {"RoleName": role})
            else:
                self.stub.add_client_error("get_role", "NoSuchEntity", expected_params={"RoleName": role})
        for role, service in creates:
            self.stub.add_response(
                "create_service_linked_role", {"Role": iam_role(role)}, {"AWSServiceName": service}
            )
        self.stub.activate()


def iam_role(name: str) -> dict:
    return {
        "RoleName": name,
        "Path": "/aws-service-role/",
        "RoleId": "AROAEXAMPLE0000000000",
        "Arn": f"arn:aws:iam::123456789012:role/aws-service-role/{name}",
        "CreateDate": "2026-01-01T00:00:00Z",
    }


def test_bootstrap_creates_the_missing_service_linked_roles_before_cdk_bootstrap(real_account, capsys):
    iam = Iam(
        has=("AWSServiceRoleForECS",),
        creates=(("AWSServiceRoleForElasticLoadBalancing", "elasticloadbalancing.amazonaws.com"),),
    )
    order: list[str] = []

    def execute(command, **_):
        iam.stub.assert_no_pending_responses()  # every role checked and created before cdk bootstrap runs
        order.append(" ".join(command[1:2]))
        return type("Done", (), {"returncode": 0})()

    assert operate.run("bootstrap", str(real_account), credentials=True, iam=iam.client, execute=execute) == 0
    assert order == ["bootstrap"]
    assert "created the service-linked role AWSServiceRoleForElasticLoadBalancing" in capsys.readouterr().out


def test_deploy_refuses_while_a_service_linked_role_is_missing(real_account):
    iam = Iam(has=("AWSServiceRoleForElasticLoadBalancing",))
    ran: list[list[str]] = []
    with pytest.raises(
        operate.OperatorError,
        match=r"account 123456789012 has no AWSServiceRoleForECS yet; run make bootstrap first",
    ):
        operate.run(
            "deploy",
            str(real_account),
            credentials=True,
            interactive=True,
            iam=iam.client,
            fetch=lambda stack: None,
            execute=lambda command, **_: ran.append(command),
        )
    iam.stub.assert_no_pending_responses()
    assert ran == []


def test_deploy_without_a_terminal_says_how_ci_approves(real_account):
    ran: list[list[str]] = []
    with pytest.raises(operate.OperatorError, match=r"^no terminal to approve .* make deploy APPROVAL=never"):
        operate.run(
            "deploy",
            str(real_account),
            credentials=True,
            interactive=False,
            execute=lambda c, **_: ran.append(c),
        )
    assert ran == []


def test_deploy_with_an_approval_level_passes_it_to_cdk(real_account):
    iam = Iam(has=("AWSServiceRoleForECS", "AWSServiceRoleForElasticLoadBalancing"))
    ran: list[list[str]] = []

    def execute(command, **_):
        ran.append(command)
        return type("Done", (), {"returncode": 0})()

    code = operate.run(
        "deploy",
        str(real_account),
        approval="never",
        credentials=True,
        interactive=False,
        iam=iam.client,
        fetch=lambda stack: None,
        execute=execute,
    )
    assert code == 0
    ((*_, flag, level),) = ran
    assert (flag, level) == ("--require-approval", "never")


def test_deploy_keeps_a_halt_around_the_cdk_cli_and_restores_it_however_it_ended(real_account):
    """make deploy reads the halted transitions right before cdk deploy, and disables again those the deploy
    enabled once it ended, even when it failed: a failed update (or its rollback) changes the pipeline too."""
    happened: list[str] = []

    def around(assembly):
        happened.append("read")
        return lambda: happened.append("disable again")

    def execute(command, **_):
        happened.append("cdk deploy")
        return type("Done", (), {"returncode": int(happened.count("cdk deploy") == 2)})()

    for _ in range(2):
        operate.run(
            "deploy",
            str(real_account),
            approval="never",
            credentials=True,
            interactive=False,
            iam=Iam(has=("AWSServiceRoleForECS", "AWSServiceRoleForElasticLoadBalancing")).client,
            fetch=lambda stack: None,
            execute=execute,
            around=around,
        )
    assert happened == ["read", "cdk deploy", "disable again", "read", "cdk deploy", "disable again"]


def test_make_deploy_keeps_a_halt_around_the_deploy(monkeypatch):
    """tools/operate/deploy.py (make deploy) runs the deploy with keep_halt around it, and passes the approval."""
    ran = {}
    monkeypatch.setattr(
        deploy, "run", lambda action, assembly, **options: ran.update(action=action, **options) or 0
    )
    assert deploy.main(["cdk.out", "--require-approval", "never"]) == 0
    assert ran == {"action": "deploy", "approval": "never", "around": keep_halt}


def test_make_deploy_passes_approval_to_the_command(tmp_path):
    dry = subprocess.run(
        ["make", "-n", "deploy", "APPROVAL=never"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert 'tools/operate/deploy.py cdk.out --require-approval "never"' in dry
