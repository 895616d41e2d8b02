"""Run the template's handlers as Lambda does: several warm instances of each function, each its own
process with its own caches.

An instance is a child process that imports ``functions/<name>/app.py`` by file path (after the
function's environment is in ``os.environ`` — the handlers read their settings at import time, as on a
Lambda cold start) and then serves one invocation at a time. A function gets a new instance only when
all its instances are busy, up to ``instances`` (``ACT3_LOCAL_INSTANCES``, default 4), so concurrent
HTTP requests meet stale per-instance caches and real transaction conflicts as they would in AWS.
``instances=0`` runs every handler in this process instead, one invocation of a function at a time.
The parent still imports each module once to read its OpenAPI schema (``module``).
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

from .template import ACCOUNT_ID, REGION, Function

log = logging.getLogger("act3_local")


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """The handler raised: the caller answers as AWS would (500 for HTTP) and the traceback is logged."""


DEFAULT_INSTANCES = 4


def _load(name: str, module_file: Path, code_dir: Path) -> ModuleType:
    module_name = f"act3_local_fn_{name}"
    spec = importlib.util.spec_from_file_location(module_name, module_file)
    if spec is None or spec.loader is None:
        raise FunctionError(f"{name}: cannot load {module_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    # As in Lambda, the function's own folder is importable (helpers next to app.py).
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _serve(conn: Connection, fn: Function) -> None:
    """An instance's life: import the handler (its cold start), then answer invocations until the
    parent goes away."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(message)s")
    try:
        handler = getattr(_load(fn.logical_id, fn.module_file, fn.code_dir), fn.attribute)
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        return
    conn.send(("ready", None))
    while True:
        try:
            event, context = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            conn.send(("ok", handler(event, context)))
        except Exception:
            conn.send(("error", traceback.format_exc()))


class _Instance:
    def __init__(self, fn: Function) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.conn, child = spawn.Pipe()
        self.process = spawn.Process(
            target=_serve, args=(child, fn), daemon=True, name=f"lambda-{fn.logical_id}"
        )
        self.process.start()
        child.close()
        kind, detail = self.conn.recv()
        if kind != "ready":
            self.stop()
            raise FunctionError(f"{fn.logical_id}: import failed:\n{detail}")

    def call(self, event: dict[str, Any], context: LambdaContext) -> tuple[str, Any]:
        self.conn.send((event, context))
        result: tuple[str, Any] = self.conn.recv()
        return result

    def stop(self) -> None:
        self.conn.close()
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()


class _Pool:
    """A function's instances: a free one serves, else a new one starts while under the limit."""

    def __init__(self, fn: Function, limit: int) -> None:
        self.fn = fn
        self.limit = limit
        self.free: list[_Instance] = []
        self.count = 0
        self.ready = threading.Condition()

    def acquire(self) -> _Instance:
        with self.ready:
            while not self.free and self.count >= self.limit:
                self.ready.wait()
            if self.free:
                return self.free.pop()
            self.count += 1
        try:
            return _Instance(self.fn)
        except BaseException:
            self.discard()
            raise

    def give_back(self, instance: _Instance) -> None:
        with self.ready:
            self.free.append(instance)
            self.ready.notify()

    def discard(self) -> None:
        with self.ready:
            self.count -= 1
            self.ready.notify()

    def stop(self) -> None:
        with self.ready:
            instances, self.free, self.count = self.free, [], 0
        for instance in instances:
            instance.stop()


class Runtime:
    def __init__(
        self, functions: dict[str, Function], environment: dict[str, str], instances: int | None = None
    ):
        self.functions = functions
        self.environment = environment
        if instances is None:
            instances = int(os.environ.get("ACT3_LOCAL_INSTANCES", DEFAULT_INSTANCES))
        self.instances = max(instances, 0)
        self._pools = {name: _Pool(fn, self.instances) for name, fn in functions.items()}
        self._modules: dict[str, ModuleType] = {}
        self._locks = {name: threading.Lock() for name in functions}
        self._import_lock = threading.Lock()
        self._conflicts_checked = False

    def apply_environment(self) -> None:
        """Put every function's variables, then the local overrides, into ``os.environ`` once.

        All functions share one process; a variable that two functions set differently is reported.
        """
        merged: dict[str, str] = {}
        for fn in self.functions.values():
            for key, value in fn.environment.items():
                if key in merged and merged[key] != value and key not in self.environment:
                    log.warning(
                        "%s: %s differs between functions; the local stack uses %r",
                        fn.logical_id,
                        key,
                        merged[key],
                    )
                    continue
                merged.setdefault(key, value)
        os.environ.update(merged | self.environment)

    def module(self, name: str) -> ModuleType:
        """The handler's module imported in this process (for its OpenAPI schema, or to run in-process)."""
        with self._import_lock:
            if name not in self._modules:
                fn = self.functions[name]
                self._modules[name] = _load(name, fn.module_file, fn.code_dir)
            return self._modules[name]

    def context(self, name: str) -> LambdaContext:
        fn = self.functions[name]
        return LambdaContext(
            function_name=name,
            memory_limit_in_mb=fn.memory,
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
            aws_request_id=str(uuid.uuid4()),
            deadline=time.monotonic() + fn.timeout,
            log_group_name=f"/aws/lambda/{name}",
        )

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        fn = self.functions[name]
        if not self.instances:
            return self._invoke_here(name, event)
        pool = self._pools[name]
        instance = pool.acquire()
        context = self.context(name)
        started = time.monotonic()
        try:
            kind, result = instance.call(event, context)
        except (EOFError, OSError) as exc:
            pool.discard()
            instance.stop()
            log.error("%s: its instance died", name)
            raise FunctionError(f"{name}: the instance died") from exc
        pool.give_back(instance)
        elapsed = (time.monotonic() - started) * 1000
        if elapsed > fn.timeout * 1000:
            log.warning("%s ran %.0f ms, over its %d s timeout", name, elapsed, fn.timeout)
        if kind == "error":
            log.error("%s raised:\n%s", name, result)
            raise FunctionError(f"{name}: {str(result).strip().splitlines()[-1]}")
        return result

    def _invoke_here(self, name: str, event: dict[str, Any]) -> Any:
        fn = self.functions[name]
        try:
            handler = getattr(self.module(name), fn.attribute)
        except Exception as exc:
            log.error("%s: import failed:\n%s", name, traceback.format_exc())
            raise FunctionError(f"{name}: {exc}") from exc
        with self._locks[name]:
            context = self.context(name)
            try:
                return handler(event, context)
            except Exception as exc:
                log.error("%s raised:\n%s", name, traceback.format_exc())
                raise FunctionError(f"{name}: {exc}") from exc

    def instances_running(self, name: str) -> int:
        return self._pools[name].count

    def stop(self) -> None:
        for pool in self._pools.values():
            pool.stop()
