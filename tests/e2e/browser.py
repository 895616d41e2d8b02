"""Debian's chromium driven by Playwright (never a downloaded browser), and what the web tests share:
sign-in, screenshots kept as artefacts, and the axe-core accessibility pass."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from tests.e2e.stack_process import REPO_ROOT

CHROMIUM = os.environ.get("ACT3_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("ACT3_E2E_ARTIFACTS") or REPO_ROOT / ".artifacts" / "web")
AXE_JS = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return f"no chromium at {CHROMIUM}: `make browser` installs Debian's"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: `make venv`"
    return None


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base: str, email: str, *, linkedin: bool = False) -> None:
    page.goto(base + "/")
    page.get_by_label("E-mail").fill(email)
    button = "Sign in with LinkedIn" if linkedin else "Sign in with e-mail"
    page.get_by_role("button", name=button).click()
    page.get_by_test_id("spendable").wait_for()


def axe_violations(page: Any, context: str = "document") -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now (WCAG 2.x A and AA rules)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated over the DevTools protocol: the page's CSP (script-src 'self') stays in force.
        page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate(
        """async (ctx) => {
            const r = await axe.run(ctx === 'document' ? document : document.querySelector(ctx), {
                runOnly: { type: 'tag',
                           values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
            });
            return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }));
        }""",
        context,
    )
    return [v for v in result if v["impact"] in SERIOUS]


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=1)


def credits_text(n: int) -> str:
    return f"{n:,}"


def number_in(text: str) -> int:
    match = re.search(r"[\d,]+", text)
    assert match, f"no number in {text!r}"
    return int(match.group().replace(",", ""))


def invite_link(moto_endpoint: str, to: str) -> str:
    """The link of the last invite e-mail sent to ``to``, read from moto's SES outbox."""
    import urllib.request

    with urllib.request.urlopen(f"{moto_endpoint}/moto-api/data.json", timeout=10) as resp:
        messages = json.loads(resp.read())["ses"]["Message"]
    bodies = [m["body"] for m in messages if to in m["destinations"]["ToAddresses"]]
    assert bodies, f"no e-mail to {to}"
    match = re.search(r"https?://\S+/invites/accept\?token=[A-Za-z0-9_-]+", bodies[-1])
    assert match, bodies[-1]
    return match.group()
