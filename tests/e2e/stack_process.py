"""A local stack run as ``python -m act3_local run`` in a child process, on free ports and a temp dir."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from act3_local.auth import CLIENT_ID, Issuer, machine_clients
from act3_local.services import free_port
from act3_local.template import load_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180.0  # a first run installs localstripe and DynamoDB Local


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    set_cookies: list[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class StackProcess:
    def __init__(self, template: Path, state_dir: Path, *, stripe: bool = True):
        self.template = template
        self.state_dir = state_dir
        self.stripe = stripe
        self.ports = {name: free_port() for name in ("port", "dynamodb-port", "moto-port", "stripe-port")}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = state_dir / "stack-output.log"
        self.info: dict[str, Any] = {}

    @property
    def api(self) -> str:
        return str(self.info["api_url"])

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "act3_local",
            "--state-dir",
            str(self.state_dir),
            "run",
            "--template",
            str(self.template),
        ]
        for name, port in self.ports.items():
            cmd += [f"--{name}", str(port)]
        if not self.stripe:
            cmd.append("--no-stripe")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        stack_json = self.state_dir / "stack.json"
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the local stack exited with {self.process.returncode}:\n{self.output()[-3000:]}"
                )
            if stack_json.exists():
                with contextlib.suppress(ValueError):
                    info = json.loads(stack_json.read_text())
                    if info.get("pid") == self.process.pid:
                        self.info = info
                        break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the local stack did not start within {START_TIMEOUT_S:.0f}s:\n{self.output()[-3000:]}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def issuer(self) -> Issuer:
        return Issuer.load(
            self.state_dir / "auth",
            issuer=self.info["auth"]["issuer"],
            audience=CLIENT_ID,
            clients=machine_clients(load_yaml(self.template)),
        )

    def token(self, email: str, **kwargs: Any) -> str:
        return self.issuer().mint(email, **kwargs)

    def client_token(self, client: str, scopes: list[str] | None = None) -> str:
        """A machine identity's client-credentials token (``usage-meter``, ``billing-operations``)."""
        return self.issuer().mint_client(client, scopes=scopes)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "act3_local", "--state-dir", str(self.state_dir), *args],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=120,
            check=False,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        base: str | None = None,
    ) -> Reply:
        data: bytes | None
        all_headers = dict(headers or {})
        if isinstance(body, bytes):
            data = body
        elif body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("content-type", "application/json")
        else:
            data = None
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            (base or self.api) + path, data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return Reply(
                    resp.status,
                    {k.lower(): v for k, v in resp.headers.items()},
                    resp.headers.get_all("set-cookie") or [],
                    resp.read(),
                )
        except urllib.error.HTTPError as exc:
            return Reply(
                exc.code,
                {k.lower(): v for k, v in exc.headers.items()},
                exc.headers.get_all("set-cookie") or [],
                exc.read(),
            )

    def wait_for(self, probe: Any, timeout: float = 15.0, interval: float = 0.3) -> Any:
        """Poll ``probe()`` until it returns something truthy (S3 events and schedules are asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {probe}; stack output:\n{self.output()[-2000:]}"
                )
            time.sleep(interval)
