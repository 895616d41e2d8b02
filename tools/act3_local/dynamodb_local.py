"""Fetch, verify and run DynamoDB Local (the emulator AWS ships as a Java jar).

The jar comes from the npm package ``amplify-dynamodb-simulator`` (folder ``emulator/``), fetched with
``npm pack`` and checked against pinned hashes before anything from it runs. Usage::

    with start() as ddb:              # in-memory, free port
        boto3.client("dynamodb", endpoint_url=ddb.endpoint, ...)

    python -m act3_local.dynamodb_local install
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

NPM_PACKAGE = "amplify-dynamodb-simulator@2.9.30"
NPM_TARBALL_URL = (
    "https://registry.npmjs.org/amplify-dynamodb-simulator/-/amplify-dynamodb-simulator-2.9.30.tgz"
)
# npm's published `dist.integrity` for the tarball above.
NPM_INTEGRITY = (
    "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=="
)
# What `emulator/sha256` must say (the hash of AWS's DynamoDB Local 1.25.1 archive) ...
EMULATOR_SHA256_FILE = "55b425a9a42cfc728436eaf0e4ae64d688b64d177c99c4f4c4d7e3dbb3ac6c09"
# ... and the hash of the jar that actually runs.
JAR_SHA256 = "454305e9bc3e6ebcca5b62569869e31563b8d7e346474e94557b2600702146c7"

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENDOR_DIR = REPO_ROOT / ".local" / "vendor"
INSTALL_DIRNAME = "dynamodb-local"
MARKER = ".verified"
JAVA_MIN_MAJOR = 17
START_TIMEOUT_S = 30.0
_PREFIX = "package/emulator/"
_DESCRIPTION = "Fetch and verify DynamoDB Local (and Java 17) if missing."


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be installed or started; the message says why in one line."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_installed(install_dir: Path) -> bool:
    marker = install_dir / MARKER
    return (
        marker.is_file()
        and marker.read_text().strip() == JAR_SHA256
        and (install_dir / "DynamoDBLocal.jar").is_file()
        and (install_dir / "DynamoDBLocal_lib").is_dir()
    )


def _fetch_tarball(dest: Path) -> Path:
    """Download the npm tarball into ``dest`` (npm when present, else the registry URL directly)."""
    npm = shutil.which("npm")
    if npm:
        proc = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent", "--pack-destination", str(dest)],
            cwd=dest,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise DynamoDBLocalError(f"`npm pack {NPM_PACKAGE}` failed: {proc.stderr.strip()[-500:]}")
        tarballs = sorted(dest.glob("*.tgz"))
        if len(tarballs) != 1:
            raise DynamoDBLocalError(f"`npm pack {NPM_PACKAGE}` produced {len(tarballs)} tarballs in {dest}")
        return tarballs[0]
    target = dest / "package.tgz"
    try:
        with urllib.request.urlopen(NPM_TARBALL_URL, timeout=120) as resp, target.open("wb") as fh:
            shutil.copyfileobj(resp, fh)
    except (urllib.error.URLError, OSError) as exc:
        raise DynamoDBLocalError(
            f"npm is not installed and downloading {NPM_TARBALL_URL} failed: {exc}"
        ) from exc
    return target


def _verify_integrity(tarball: Path) -> None:
    algo, _, expected = NPM_INTEGRITY.partition("-")
    digest = hashlib.new(algo)
    with tarball.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    actual = base64.b64encode(digest.digest()).decode()
    if actual != expected:
        raise DynamoDBLocalError(
            f"{tarball.name}: integrity mismatch (expected {NPM_INTEGRITY}, got {algo}-{actual})"
        )


def _extract_emulator(tarball: Path, dest: Path) -> None:
    """Extract ``package/emulator/**`` (regular files and dirs only, no escaping paths) into ``dest``."""
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar.getmembers():
            if not member.name.startswith(_PREFIX) or not (member.isfile() or member.isdir()):
                continue
            relative = member.name[len(_PREFIX) :]
            if not relative or relative.startswith("/") or ".." in Path(relative).parts:
                continue
            target = dest / relative
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                continue
            with source, target.open("wb") as fh:
                shutil.copyfileobj(source, fh)


def _verify_emulator(emulator_dir: Path) -> None:
    sha_file = emulator_dir / "sha256"
    if not sha_file.is_file() or sha_file.read_text().split()[:1] != [EMULATOR_SHA256_FILE]:
        raise DynamoDBLocalError(f"{sha_file}: does not contain the pinned {EMULATOR_SHA256_FILE}")
    jar = emulator_dir / "DynamoDBLocal.jar"
    if not jar.is_file() or _sha256(jar) != JAR_SHA256:
        raise DynamoDBLocalError(f"{jar}: sha256 differs from the pinned {JAR_SHA256}")


def _java_major(java: str) -> int | None:
    proc = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_xxx".
    return int(match.group(2) or 0) if major == 1 else major


@functools.cache
def ensure_java() -> str:
    """Return the path of a Java >= 17, installing openjdk-17-jre-headless with apt-get if needed."""
    java = shutil.which("java")
    if java and (_java_major(java) or 0) >= JAVA_MIN_MAJOR:
        return java
    apt = shutil.which("apt-get")
    sudo: list[str] = []
    if os.geteuid() != 0:
        sudo_bin = shutil.which("sudo")
        sudo = [sudo_bin, "-n"] if sudo_bin else []
    if apt and (os.geteuid() == 0 or sudo):
        print(
            "act3_local: Java 17 not found; installing openjdk-17-jre-headless with apt-get", file=sys.stderr
        )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        ok = (
            subprocess.run([*sudo, apt, "update"], env=env, check=False).returncode == 0
            and subprocess.run(
                [*sudo, apt, "install", "-y", "--no-install-recommends", "openjdk-17-jre-headless"],
                env=env,
                check=False,
            ).returncode
            == 0
        )
        java = shutil.which("java")
        if ok and java and (_java_major(java) or 0) >= JAVA_MIN_MAJOR:
            return java
    raise DynamoDBLocalError(
        "DynamoDB Local needs Java 17+ on PATH and `apt-get install -y openjdk-17-jre-headless` "
        "was not possible here; install a Java 17 runtime and retry"
    )


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Serialise installs across processes (pytest-xdist workers may all call ensure_installed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_installed(vendor_dir: Path = DEFAULT_VENDOR_DIR) -> Path:
    """Make sure a verified DynamoDB Local and Java 17 are present; return the emulator directory."""
    install_dir = vendor_dir / INSTALL_DIRNAME
    if not _is_installed(install_dir):
        with locked(vendor_dir / f".{INSTALL_DIRNAME}.lock"):
            if not _is_installed(install_dir):
                _install(vendor_dir, install_dir)
    ensure_java()
    return install_dir


def _install(vendor_dir: Path, install_dir: Path) -> None:
    print(f"act3_local: fetching DynamoDB Local ({NPM_PACKAGE}) into {install_dir}", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=vendor_dir, prefix=".ddb-install-") as tmp:
        work = Path(tmp)
        download = work / "download"
        download.mkdir()
        tarball = _fetch_tarball(download)
        _verify_integrity(tarball)
        staged = work / INSTALL_DIRNAME
        _extract_emulator(tarball, staged)
        _verify_emulator(staged)
        (staged / MARKER).write_text(JAR_SHA256 + "\n")
        if install_dir.exists():
            shutil.rmtree(install_dir)
        # Atomic on one filesystem: a half-written install is never visible under install_dir.
        staged.rename(install_dir)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _answers(endpoint: str) -> bool:
    """True once DynamoDB Local serves ListTables (any signed-looking request is accepted locally)."""
    request = urllib.request.Request(  # noqa: S310 - endpoint is always http://127.0.0.1:<port>
        endpoint,
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Authorization": (
                "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, "
                "SignedHeaders=content-type;host;x-amz-target, Signature=0"
            ),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:  # noqa: S310
            return resp.status == 200 and "TableNames" in json.loads(resp.read() or b"{}")
    except (urllib.error.URLError, OSError, ValueError):
        return False


_RUNNING: set[DynamoDBLocal] = set()


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the JVM when this process dies (even by SIGKILL).

    The death signal follows the thread that forked, so it is only armed from the main thread; libc is
    resolved here, in the parent, so the forked child runs no imports.
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent_pid = os.getpid()
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return hook


class DynamoDBLocal:
    """A running DynamoDB Local process. Stop it with ``stop()`` or use it as a context manager."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, db_path: Path | None, log_path: Path):
        self.process = process
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.db_path = db_path
        self.log_path = log_path

    def log_tail(self, max_chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-max_chars:].strip()
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the JVM's process group and wait for it (idempotent)."""
        _RUNNING.discard(self)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def __enter__(self) -> DynamoDBLocal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DynamoDBLocal(endpoint={self.endpoint!r}, pid={self.process.pid})"


@atexit.register
def _stop_all() -> None:
    for ddb in list(_RUNNING):
        ddb.stop()


def start(
    port: int | None = None,
    db_path: Path | None = None,
    *,
    vendor_dir: Path = DEFAULT_VENDOR_DIR,
    timeout: float = START_TIMEOUT_S,
) -> DynamoDBLocal:
    """Start DynamoDB Local (in memory unless ``db_path``) and return once it answers requests.

    ``-sharedDb`` makes every credential/region see the same tables, as one real table would.
    """
    install_dir = ensure_installed(vendor_dir)
    java = ensure_java()  # cached by ensure_installed
    if port is None:
        port = free_port()
    elif not _port_is_free(port):
        raise DynamoDBLocalError(
            f"port {port} is already in use; stop what listens there or pick another port"
        )
    storage = ["-inMemory"]
    if db_path is not None:
        db_path.mkdir(parents=True, exist_ok=True)
        storage = ["-dbPath", str(db_path)]
    cmd = [
        java,
        f"-Djava.library.path={install_dir / 'DynamoDBLocal_lib'}",
        "-jar",
        str(install_dir / "DynamoDBLocal.jar"),
        "-port",
        str(port),
        *storage,
        "-sharedDb",
        "-disableTelemetry",
    ]
    log_fd, log_name = tempfile.mkstemp(prefix=f"dynamodb-local-{port}-", suffix=".log")
    with os.fdopen(log_fd, "wb") as log:
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=install_dir,
            start_new_session=True,
            preexec_fn=_die_with_parent_hook(),  # noqa: PLW1509 - no imports or locks in the hook
        )
    ddb = DynamoDBLocal(process, port, db_path, Path(log_name))
    _RUNNING.add(ddb)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = ddb.log_tail()
            ddb.stop()
            raise DynamoDBLocalError(
                f"DynamoDB Local exited with code {process.returncode} on port {port}: {tail}"
            )
        if _answers(ddb.endpoint):
            return ddb
        if time.monotonic() > deadline:
            tail = ddb.log_tail()
            ddb.stop()
            raise DynamoDBLocalError(
                f"DynamoDB Local did not answer on {ddb.endpoint} within {timeout:.0f}s: {tail}"
            )
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m act3_local.dynamodb_local", description=_DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    install = sub.add_parser("install", help=_DESCRIPTION)
    install.add_argument("--vendor-dir", type=Path, default=DEFAULT_VENDOR_DIR)
    args = parser.parse_args(argv)
    try:
        path = ensure_installed(args.vendor_dir)
    except DynamoDBLocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
