"""The emulators the stack starts as child processes: moto (server mode) and localstripe.

DynamoDB Local is started by ``act3_local.dynamodb_local``. Every child is put in its own process
group, asked to die with its parent (Linux ``PR_SET_PDEATHSIG``), and stopped by ``stop()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCALSTRIPE_VERSION = "1.15.10"
LOCALSTRIPE_VENV = REPO_ROOT / ".venv-localstripe"
START_TIMEOUT_S = 60.0


class ServiceError(RuntimeError):
    """A service could not start: the message says what to do."""


def port_is_free(port: int) -> bool:
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError as exc:
                if family == socket.AF_INET6 and exc.errno in (99, 97):  # no IPv6 on this host
                    continue
                return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_port(port: int, what: str, flag: str) -> None:
    if not port_is_free(port):
        raise ServiceError(
            f"port {port} ({what}) is busy: stop what listens there "
            f"(`make stop` if it is an old stack) or pass {flag}"
        )


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    def hook() -> None:
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return hook


class Child:
    """A child process in its own group, with its output in a log file."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ):
        self.name = name
        self.log_path = log_path
        self.endpoint = ""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        on_main = sys.platform == "linux" and threading.current_thread() is threading.main_thread()
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()) if on_main else None,  # noqa: PLW1509
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, max_chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-max_chars:].strip()
        except OSError:
            return ""

    def wait_until(self, ready: Callable[[], bool], timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with code {self.process.returncode}: {self.log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"{self.name} did not answer within {timeout:.0f}s: {self.log_tail()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback only
            return 200 <= int(resp.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (urllib.error.URLError, OSError, ValueError):
        return False


# Moto's server, single-threaded: every request runs alone, so none of its conditional updates
# can be lost to a concurrent one (the stack's own clients are the only callers anyway).
_MOTO_MAIN = """
import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
dispatcher = DomainDispatcherApplication(create_backend_app)
def app(environ, start_response):
    # A presigned S3 PUT sent by `curl --data-binary` is labelled as a form; werkzeug would parse it as
    # one and moto would store an empty object. Objects are never forms, so let the bytes through.
    form = environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
    if environ.get("REQUEST_METHOD") == "PUT" and form:
        environ["CONTENT_TYPE"] = "binary/octet-stream"
    return dispatcher(environ, start_response)
run_simple("127.0.0.1", int(sys.argv[1]), app, threaded=False, request_handler=MotoRequestHandler)
"""


def start_moto(port: int, log_path: Path) -> Child:
    require_port(port, "moto", "--moto-port")
    env = os.environ.copy() | {"MOTO_PORT": str(port), "AWS_DEFAULT_REGION": "us-east-1"}
    child = Child("moto", [sys.executable, "-c", _MOTO_MAIN, str(port)], log_path, env=env)
    child.endpoint = f"http://127.0.0.1:{port}"
    child.wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/moto-api/"))
    return child


# localstripe keeps its objects in /tmp/localstripe.pickle; the stack keeps them in its state dir so
# two stacks (a developer's and the tests') never share or overwrite each other's Stripe data.
_LOCALSTRIPE_MAIN = Path(__file__).with_name("localstripe_main.py")


def ensure_localstripe(venv: Path = LOCALSTRIPE_VENV) -> Path:
    """The python of a venv holding localstripe (created on first use; it is GPL and pins aiohttp).

    Under a lock: two pytest workers starting stacks at once would otherwise both install, one of them
    into a venv whose pip the other was still bootstrapping."""
    from act3_local.dynamodb_local import locked

    python = venv / "bin" / "python"
    marker = venv / f".localstripe-{LOCALSTRIPE_VERSION}"
    if marker.exists() and python.exists():
        return python
    with locked(venv.parent / f".{venv.name}.lock"):
        if not (marker.exists() and python.exists()):
            _install_localstripe(venv, python)
            marker.write_text(LOCALSTRIPE_VERSION + "\n")
    return python


def _install_localstripe(venv: Path, python: Path) -> None:
    print(
        f"act3_local: installing localstripe {LOCALSTRIPE_VERSION} into {venv} (first run only)", flush=True
    )
    try:
        # Made afresh: a venv without the marker may be half made (an interrupted first run, no pip yet).
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"localstripe=={LOCALSTRIPE_VERSION}",
            ],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise ServiceError(
            f"could not install localstripe into {venv} ({detail[0]}); check access to PyPI or run "
            f"`{sys.executable} -m venv {venv} && {python} -m pip install localstripe=={LOCALSTRIPE_VERSION}`"
        ) from exc


def start_localstripe(port: int, state_file: Path, log_path: Path) -> Child:
    require_port(port, "localstripe", "--stripe-port")
    python = ensure_localstripe()
    main = _LOCALSTRIPE_MAIN.read_text()
    child = Child("localstripe", [str(python), "-c", main, str(port), str(state_file)], log_path)
    child.endpoint = f"http://127.0.0.1:{port}"
    child.wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/js.stripe.com/v3/"))
    return child


def write_json(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(tmp, path)
