"""The README's promises: its example configuration synthesizes to what it says, its idle cost is the plan's,
and it names every test-only dependency whose licence is not permissive."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, Synthesized, built_once, synthesize
from doc_samples import blocks, samples
from template_queries import pipeline_stages, resources

from constructs.settings.release_config import ReleaseConfig

README = ROOT / "README.md"
# Licence names that are not permissive: copyleft of any strength.
NOT_PERMISSIVE = re.compile(r"\b(?:A?GPL|LGPL|MPL|EPL|EUPL|CDDL|SSPL)\b|Mozilla Public|GNU ")


def example_context() -> dict:
    """The README's example configuration: its one JSON block, as cdk.json's context holds it."""
    (block,) = [b for b in blocks(README) if b.info == "json"]
    return json.loads(block.body)


@pytest.fixture(scope="session")
def example_synth(tmp_path_factory) -> Synthesized:
    """The README's example, synthesized once per session like the test configurations."""
    context = example_context()
    outdir = built_once(tmp_path_factory, "readme-example", lambda target: synthesize(target, context))
    return Synthesized.load(outdir, context)


def test_the_example_is_a_valid_configuration_of_the_residency_case():
    config = ReleaseConfig.from_context(example_context(), default_account=None)
    assert config.regions == ("eu-west-2", "ap-southeast-1")
    assert config.staging_regions == ("eu-west-2",)
    assert config.manual_approval is True
    assert config.allow_plain_http is False
    assert dict(config.domain.residency) == {"EU": "eu-west-2", "AS": "ap-southeast-1", "*": "eu-west-2"}
    assert config.domain.routing == "geolocation"
    assert config.database.engine == "aurora-postgresql"


def test_the_example_synthesizes_each_regions_copy_with_its_database_and_staging_first(example_synth):
    assert sorted(example_synth.templates) == [
        "webapp-ap-southeast-1",
        "webapp-eu-west-2",
        "webapp-pipeline",
        "webapp-staging-eu-west-2",
    ]
    assert [s["Name"] for s in pipeline_stages(example_synth.pipeline)] == [
        "Source",
        "Build",
        "Deploy_to_Staging",
        "Approve_Production",
        "Deploy_to_Production",
    ]
    for name, template in example_synth.regional_templates.items():
        assert len(resources(template, "AWS::RDS::DBCluster")) == 1, name
        endpoints = sorted(
            r["Properties"]["Endpoint"] for r in resources(template, "AWS::SNS::Subscription").values()
        )
        assert endpoints == ["oncall@example.com", "ops@example.com"], name


def test_the_example_serves_europe_and_everyone_else_from_london_and_asia_from_singapore(example_synth):
    served = {}
    for region in example_synth.config.regions:
        template = example_synth.regional(region)
        for record in resources(template, "AWS::Route53::RecordSet").values():
            properties = record["Properties"]
            if properties["Name"] == "shop.example.com." and "GeoLocation" in properties:
                location = properties["GeoLocation"]
                served[location.get("ContinentCode") or location["CountryCode"]] = region
        # HTTPS only: port 80 redirects.
        ports = {
            r["Properties"]["Port"]: r["Properties"]
            for r in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
        }
        assert ports[443]["Protocol"] == "HTTPS"
        assert ports[80]["DefaultActions"][0]["Type"] == "redirect"
    assert served == {"EU": "eu-west-2", "AS": "ap-southeast-1", "*": "eu-west-2"}


def test_the_idle_cost_hint_is_the_plans_estimate_per_region():
    """The README's round figure is within a fifth of every region's total in the make plan sample."""
    (figure,) = re.findall(r"Roughly USD (\d+) a month per region", README.read_text())
    (plan,) = [b for b in samples() if b.marker == ("output", "make plan")]
    totals = {
        region: float(total)
        for region, total in re.findall(
            r"^  ([a-z]{2}(?:-[a-z]+)+-\d)\s.*\s(\d+\.\d\d)$", plan.body, flags=re.M
        )
    }
    assert sorted(totals) == ["ap-southeast-1", "eu-west-2"]
    for region, total in totals.items():
        assert abs(total - int(figure)) <= int(figure) / 5, (region, total)


# --- licences ----------------------------------------------------------------------------------------


def pins(requirements: Path) -> set[str]:
    """The distribution names a requirements file pins (its -r includes left out)."""
    names = set()
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==", line)
        if match:
            names.add(match[1])
    return names


LICENCE_OF = """
import importlib.metadata, json, sys
found = {}
for name in sys.argv[1:]:
    meta = importlib.metadata.metadata(name)
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License")]
    declared = [meta.get("License-Expression") or "", (meta.get("License") or "")[:200], *classifiers]
    if not any(declared):  # only a licence file (pgserver): its first line names it
        files = [f for f in importlib.metadata.files(name) or [] if "LICEN" in f.name.upper()]
        declared = [next(line.strip() for line in f.read_text().splitlines() if line.strip()) for f in files]
    found[name] = " | ".join(part for part in declared if part)
print(json.dumps(found))
"""


def python_licences(python: Path, names: set[str]) -> dict[str, str]:
    """Each distribution's licence as its installed metadata declares it, in the virtualenv of ``python``."""
    assert python.exists(), f"{python} is missing: run make setup"
    done = subprocess.run(
        [str(python), "-c", LICENCE_OF, *sorted(names)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def test_the_readme_names_every_test_only_dependency_that_is_not_permissive():
    dev = pins(ROOT / "requirements-dev.txt") - pins(ROOT / "requirements.txt")
    licences = {
        **python_licences(ROOT / ".venv" / "bin" / "python", dev),
        **python_licences(ROOT / ".venv-scan" / "bin" / "python", pins(ROOT / "requirements-scan.txt")),
    }
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for path in lock:
        name = path.removeprefix("node_modules/")
        if path and name != "aws-cdk":  # the CDK CLI deploys the app: not a test-only dependency
            licences[name] = json.loads((ROOT / path / "package.json").read_text()).get("license", "")
    assert all(licences.values()), [name for name, licence in licences.items() if not licence]
    not_permissive = {name.lower() for name, licence in licences.items() if NOT_PERMISSIVE.search(licence)}
    section = README.read_text().split("## License", 1)[1]
    # Each item of the README's list starts with the packages it names, then a colon and their licence.
    named = {
        name.lower()
        for item in re.findall(r"^- (.+?):\s", section, flags=re.M)
        for name in re.findall(r"`([^`]+)`", item)
    }
    assert sorted(named) == sorted(not_permissive)
    assert "@cloud-copilot/iam-simulate" in not_permissive  # the AGPL simulator the tests run
