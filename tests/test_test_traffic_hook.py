"""The test-traffic hook answers each engine, from what the test listener answered."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from botocore.stub import Stubber
from conftest import offline_client

from release.hooks import test_traffic as hook

EVENT = {"DeploymentId": "d-ABC123", "LifecycleEventHookExecutionId": "hook-1"}


class FakeCodeDeploy:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def put_lifecycle_event_hook_execution_status(self, **kwargs) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def green_task_set():
    """A loopback HTTP server standing in for the test listener; answers with ``statuses`` in turn."""
    statuses: list[int] = []
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(statuses.pop(0) if len(statuses) > 1 else statuses[0])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/health", statuses, requests
    server.shutdown()
    server.server_close()


def run_hook(monkeypatch, url: str) -> tuple[str, FakeCodeDeploy, list[float]]:
    monkeypatch.setenv("TEST_URL", url)
    client, pauses = FakeCodeDeploy(), []
    status = hook.handler(EVENT, None, client=client, sleep=pauses.append)
    return status, client, pauses


def test_healthy_green_task_set_lets_the_shift_proceed(monkeypatch, green_task_set):
    url, statuses, requests = green_task_set
    statuses.append(200)
    status, client, pauses = run_hook(monkeypatch, url)
    assert status == "Succeeded"
    assert requests == ["/health"]
    assert pauses == []
    assert client.calls == [
        {"deploymentId": "d-ABC123", "lifecycleEventHookExecutionId": "hook-1", "status": "Succeeded"}
    ]


def test_a_green_task_set_that_recovers_within_the_attempts_passes(monkeypatch, green_task_set):
    url, statuses, requests = green_task_set
    statuses.extend([503, 503, 200])
    status, _, pauses = run_hook(monkeypatch, url)
    assert status == "Succeeded"
    assert len(requests) == 3
    assert pauses == [hook.PAUSE_SECONDS] * 2


def test_failing_green_task_set_fails_the_deployment(monkeypatch, green_task_set):
    url, statuses, requests = green_task_set
    statuses.append(500)
    status, client, _ = run_hook(monkeypatch, url)
    assert status == "Failed"
    assert len(requests) == hook.ATTEMPTS
    assert client.calls[0]["status"] == "Failed"


def test_unreachable_test_listener_fails_the_deployment(monkeypatch):
    status, client, _ = run_hook(monkeypatch, "http://127.0.0.1:9/health")
    assert status == "Failed"
    assert client.calls[0]["status"] == "Failed"


def test_a_redirect_is_the_answer_and_is_not_followed(monkeypatch):
    """Following a redirect could leave the test listener for production (blue) and pass without testing green."""
    production: list[str] = []

    class Production(BaseHTTPRequestHandler):
        def do_GET(self):
            production.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    class Green(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{servers[0].server_port}/")
            self.end_headers()

        def log_message(self, *args):
            pass

    servers = [HTTPServer(("127.0.0.1", 0), Production), HTTPServer(("127.0.0.1", 0), Green)]
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        status, client, _ = run_hook(monkeypatch, f"http://127.0.0.1:{servers[1].server_port}/health")
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert status == "Succeeded"
    assert client.calls[0]["status"] == "Succeeded"
    assert production == [], "the redirect was followed"


def test_a_redirect_on_the_test_listener_is_followed(monkeypatch):
    """A path that redirects within the test listener is checked where it leads: a broken page fails."""
    answered: list[str] = []

    class Green(BaseHTTPRequestHandler):
        def do_GET(self):
            answered.append(self.path)
            if self.path == "/":
                self.send_response(302)
                self.send_header("Location", "/login")
            else:
                self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Green)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        status, _, _ = run_hook(monkeypatch, f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
        server.server_close()
    assert status == "Failed"
    assert answered[:2] == ["/", "/login"]


# An event as Amazon ECS sends it at POST_TEST_TRAFFIC_SHIFT (developer guide, "Lambda lifecycle hooks").
ECS_EVENT = {
    "executionId": "a1b2c3",
    "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
    "resourceArn": "arn:aws:ecs:eu-west-2:111111111111:service-deployment/web/web/abc",
    "executionDetails": {
        "serviceArn": "arn:aws:ecs:eu-west-2:111111111111:service/web/web",
        "targetServiceRevisionArn": "arn:aws:ecs:eu-west-2:111111111111:service-revision/web/web/2",
        "testTrafficWeights": {"arn:aws:ecs:eu-west-2:111111111111:service-revision/web/web/2": 100},
        "productionTrafficWeights": {},
    },
}


def ecs_deployment(sources: list[dict]) -> tuple[object, Stubber]:
    """A stubbed ECS client whose DescribeServiceDeployments names ``sources`` as the earlier revisions."""
    ecs = offline_client("ecs", "eu-west-2")
    stub = Stubber(ecs)
    stub.add_response(
        "describe_service_deployments",
        {
            "serviceDeployments": [
                {"serviceDeploymentArn": ECS_EVENT["resourceArn"], "sourceServiceRevisions": sources}
            ]
        },
        {"serviceDeploymentArns": [ECS_EVENT["resourceArn"]]},
    )
    return ecs, stub


BLUE = [{"arn": "arn:aws:ecs:eu-west-2:111111111111:service-revision/web/web/1", "requestedTaskCount": 2}]


@pytest.mark.parametrize(("answer", "expected"), [(200, "SUCCEEDED"), (500, "FAILED")])
def test_for_ecs_the_hook_returns_its_status(monkeypatch, green_task_set, answer, expected):
    url, statuses, requests = green_task_set
    statuses.append(answer)
    monkeypatch.setenv("TEST_URL", url)
    pauses: list[float] = []
    ecs, stub = ecs_deployment(BLUE)
    with stub:
        assert hook.ecs_handler(ECS_EVENT, None, ecs=ecs, sleep=pauses.append) == {"hookStatus": expected}
    assert len(requests) == (1 if answer == 200 else hook.ATTEMPTS)


def test_for_ecs_the_deployment_that_creates_the_service_passes_unchecked(monkeypatch, capsys):
    """It runs the bootstrap image, which need not answer the check's path (nginx answers only /)."""
    monkeypatch.setenv("TEST_URL", "http://127.0.0.1:9/health")
    ecs, stub = ecs_deployment([])
    with stub:
        assert hook.ecs_handler(ECS_EVENT, None, ecs=ecs) == {"hookStatus": "SUCCEEDED"}
    assert "nothing to check" in capsys.readouterr().out


def test_for_ecs_a_failed_deployment_lookup_fails_the_check_and_says_why(monkeypatch, capsys):
    monkeypatch.setenv("TEST_URL", "http://127.0.0.1:9/health")
    ecs = offline_client("ecs", "eu-west-2")
    with Stubber(ecs) as stub:
        stub.add_client_error("describe_service_deployments", service_error_code="AccessDeniedException")
        assert hook.ecs_handler(ECS_EVENT, None, ecs=ecs) == {"hookStatus": "FAILED"}
    assert "AccessDeniedException" in capsys.readouterr().out
