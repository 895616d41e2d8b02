"""Stopping and starting the stack on the same state folder keeps the data and the signing keys."""

from __future__ import annotations

from tests.e2e.stack_process import StackProcess


def test_a_restart_keeps_the_data(fixture_stack: StackProcess) -> None:
    # Given a record written through the stack, and a token minted before the restart
    token = fixture_stack.token("keeper@example.com")
    ran = fixture_stack.cli("tick", "--schedule", "Monthly")
    assert ran.returncode == 0, ran.stderr
    before = fixture_stack.request("GET", "/records/tick", token=token).json()["items"]
    assert before
    # When the stack is stopped and started again
    fixture_stack.restart()
    # Then DynamoDB Local kept the items, the keys are the same and the stack works as before
    after = fixture_stack.request("GET", "/records/tick", token=token)
    assert after.status == 200, after.body
    assert {i["sk"] for i in before} <= {i["sk"] for i in after.json()["items"]}
    assert fixture_stack.cli("tick", "--schedule", "Monthly").returncode == 0


def test_stop_from_the_cli_ends_every_process(fixture_stack: StackProcess) -> None:
    # Given the running stack (restarted by the test above or not)
    process = fixture_stack.process
    assert process is not None and process.poll() is None
    # When `stop` is asked from another process
    stopped = fixture_stack.cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    # Then the stack has exited, and starting again works
    assert process.wait(timeout=30) == 0
    fixture_stack.start()
    assert fixture_stack.request("GET", "/public").status == 200
