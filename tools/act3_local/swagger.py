"""`/docs`: Swagger UI (Authorize, try-it-out) over `/openapi.json`, served offline from the
swagger-ui-bundle package: nothing is fetched from elsewhere, so it works with no network."""

from __future__ import annotations

import mimetypes

PREFIX = "/docs/assets/"
# The files the page uses; nothing else under the package is served.
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "oauth2-redirect.html")

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ACT 3 AI billing API (local)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head><body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  tryItOutEnabled: true,
  displayRequestDuration: true,
  filter: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
});
</script></body></html>
"""


def asset(path: str) -> tuple[bytes, str] | None:
    """The bytes and content type of `/docs/assets/<name>`, or None when it is not one of ASSETS."""
    name = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
    if name not in ASSETS:
        return None
    from swagger_ui_bundle import swagger_ui_path

    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    return (swagger_ui_path / name).read_bytes(), content_type
