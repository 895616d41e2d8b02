"""act3_local's first-run installs, as two pytest workers meet them: one installs, the other waits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from act3_local import services


def test_two_stacks_starting_at_once_install_localstripe_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = tmp_path / ".venv-localstripe"
    installs: list[float] = []

    def slow_install(target: Path, python: Path) -> None:
        installs.append(time.monotonic())
        time.sleep(0.3)  # a venv whose pip is still being bootstrapped
        python.parent.mkdir(parents=True)
        python.write_text("#!/bin/sh\n")

    monkeypatch.setattr(services, "_install_localstripe", slow_install)
    found: list[Path] = []
    workers = [
        threading.Thread(target=lambda: found.append(services.ensure_localstripe(venv))) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # Then one installed, and every caller got the finished venv's python
    assert len(installs) == 1
    assert found == [venv / "bin" / "python"] * 4
    assert (venv / f".localstripe-{services.LOCALSTRIPE_VERSION}").exists()
