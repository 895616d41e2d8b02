"""Run the template's handlers in this process, one warm "container" per function.

Each ``functions/<name>/app.py`` is imported by file path under a unique module name (they are all
called ``app``) on its first invocation, after the function's environment is in ``os.environ`` — the
handlers read their settings at import time, as on a Lambda cold start. Invocations of one function
are serialised, as a single Lambda instance would run them (Powertools resolvers keep the current
event on the module's ``app``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
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


class Runtime:
    def __init__(self, functions: dict[str, Function], environment: dict[str, str]):
        self.functions = functions
        self.environment = environment
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
        with self._import_lock:
            if name in self._modules:
                return self._modules[name]
            fn = self.functions[name]
            module_name = f"act3_local_fn_{name}"
            spec = importlib.util.spec_from_file_location(module_name, fn.module_file)
            if spec is None or spec.loader is None:
                raise FunctionError(f"{name}: cannot load {fn.module_file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            # As in Lambda, the function's own folder is importable (helpers next to app.py).
            code_dir = str(fn.code_dir)
            if code_dir not in sys.path:
                sys.path.insert(0, code_dir)
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(module_name, None)
                raise
            self._modules[name] = module
            return module

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
        try:
            module = self.module(name)
            handler = getattr(module, fn.attribute)
        except Exception as exc:
            log.error("%s: import failed:\n%s", name, traceback.format_exc())
            raise FunctionError(f"{name}: {exc}") from exc
        with self._locks[name]:
            context = self.context(name)
            started = time.monotonic()
            try:
                return handler(event, context)
            except Exception as exc:
                log.error("%s raised:\n%s", name, traceback.format_exc())
                raise FunctionError(f"{name}: {exc}") from exc
            finally:
                elapsed = (time.monotonic() - started) * 1000
                if elapsed > fn.timeout * 1000:
                    log.warning("%s ran %.0f ms, over its %d s timeout", name, elapsed, fn.timeout)
