"""Match a request to an ``HttpApi`` route the way API Gateway HTTP APIs choose one.

Most specific first: full literal paths, then paths with ``{param}`` segments (more literals first),
then greedy ``{proxy+}``, then ``$default``; an exact method beats ``ANY``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from .template import Route


@dataclass
class CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    names: list[str]
    rank: tuple[int, ...]


def compile_route(route: Route) -> CompiledRoute:
    if route.path == "$default":
        return CompiledRoute(route, re.compile(r"^/.*$"), [], (3, 0, 0, route.method == "ANY"))
    parts = [p for p in route.path.strip("/").split("/") if p]
    regex, literals, greedy = "", 0, False
    names: list[str] = []
    for part in parts:
        match = re.fullmatch(r"\{([^}+]+)(\+?)\}", part)
        if match and match.group(2):
            regex += "/(?P<{}>.+)".format(f"p{len(names)}")
            names.append(match.group(1))
            greedy = True
        elif match:
            regex += "/(?P<{}>[^/]+)".format(f"p{len(names)}")
            names.append(match.group(1))
        else:
            regex += "/" + re.escape(part)
            literals += 1
    tier = 2 if greedy else (1 if names else 0)
    return CompiledRoute(
        route,
        re.compile("^" + (regex or "/") + "/?$" if regex else r"^/$"),
        names,
        (tier, -literals, -len(parts), route.method == "ANY"),
    )


class Router:
    def __init__(self, routes: list[Route]):
        self.compiled = sorted((compile_route(r) for r in routes), key=lambda c: c.rank)

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        path = raw_path or "/"
        for compiled in self.compiled:
            if compiled.route.method not in ("ANY", method.upper()):
                continue
            found = compiled.pattern.match(path)
            if found is None:
                continue
            params = {name: unquote(found.group(f"p{i}")) for i, name in enumerate(compiled.names)}
            return compiled.route, params
        return None
