"""The default bootstrap image: the project's own, answering every path on PORT as a non-root user."""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import urllib.request

import pytest
from conftest import ROOT
from template_queries import service_task_definition

from constructs.region.bootstrap_image import BOOTSTRAP_CONTEXT
from constructs.settings.service_settings import DEFAULT_CONTAINER_USER

sys.path.insert(0, str(BOOTSTRAP_CONTEXT))
import server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("path", ["/", "/health", "/deep/path?with=query"])
def test_the_server_answers_every_path_with_200(path):
    port = free_port()
    httpd = server.serve(port)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            assert response.status == 200
            assert response.read() == server.PAGE
        head = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="HEAD")
        with urllib.request.urlopen(head, timeout=5) as response:
            assert response.status == 200
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_image_runs_the_server_as_the_default_user_and_writes_nothing():
    dockerfile = (BOOTSTRAP_CONTEXT / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user == DEFAULT_CONTAINER_USER
    assert f"adduser -D -H -u {user} app" in dockerfile
    assert "PYTHONDONTWRITEBYTECODE=1" in dockerfile
    assert 'CMD ["python", "/srv/server.py"]' in dockerfile
    # The same base as the sample, so one image family is pulled from ECR Public.
    (base,) = re.findall(r"^FROM (\S+)$", dockerfile, re.MULTILINE)
    assert base in (ROOT / "sample" / "Dockerfile").read_text()
    source = (BOOTSTRAP_CONTEXT / "server.py").read_text()
    assert "open(" not in source, "nothing is written (the root filesystem is read-only)"


def test_every_region_starts_from_it_and_the_execution_role_may_pull_it(default_synth):
    for stack_name, template in default_synth.regional_templates.items():
        (container,) = service_task_definition(template)["ContainerDefinitions"]
        region = stack_name.removeprefix("webapp-")
        assert container["Image"] == {
            "Fn::Sub": f"111111111111.dkr.ecr.{region}.${{AWS::URLSuffix}}/cdk-hnb659fds-container-assets-"
            f"111111111111-{region}:" + container["Image"]["Fn::Sub"].rsplit(":", 1)[1]
        }
        assert container["Environment"][0] == {"Name": "PORT", "Value": "80"}


def test_the_image_carries_the_database_setup_its_driver_and_the_rds_certificates(synth_cache):
    dockerfile = (BOOTSTRAP_CONTEXT / "Dockerfile").read_text()
    assert "COPY server.py database_users.py ./" in dockerfile
    assert "RUN pip install --no-cache-dir --no-compile -r requirements.txt" in dockerfile
    bundle = re.search(r"^ADD (\S+) (\S+)\nRUN chmod 0644 (\S+)$", dockerfile, re.MULTILINE)
    assert bundle.groups() == (
        "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem",
        "/srv/rds-ca.pem",
        "/srv/rds-ca.pem",
    )
    assert dockerfile.index("RUN chmod 0644") < dockerfile.index("USER "), "made readable while still root"
    assert "DB_CA_BUNDLE=/srv/rds-ca.pem" in dockerfile
    # The same driver, pinned the same, as the sample (whose pins the tests run).
    pins = {
        line for line in (BOOTSTRAP_CONTEXT / "requirements.txt").read_text().splitlines() if "==" in line
    }
    assert pins
    assert pins <= set((ROOT / "sample" / "requirements.txt").read_text().splitlines())
    # The setup task runs the script the image carries.
    for template in synth_cache("database").regional_templates.values():
        (setup,) = [
            r["Properties"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::ECS::TaskDefinition"
            and "DatabaseUsers" in json.dumps(r.get("Metadata", {}))
        ]
        (container,) = setup["ContainerDefinitions"]
        assert container["Command"] == ["python", "/srv/database_users.py"]
        assert (BOOTSTRAP_CONTEXT / "database_users.py").is_file()
