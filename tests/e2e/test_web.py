"""The billing pages in a real browser (Debian's chromium through Playwright) against the running stack.

A person signs in, reads the meters, calculates, runs a job, meets the out-of-credit dialog, invites a
member and exports the ledger; a viewer finds every page read-only; every page passes axe-core with no
serious violation, from phone width to desktop. Screenshots of each step land in ``.artifacts/web``.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    axe_violations,
    chromium_missing,
    credits_text,
    describe,
    invite_link,
    number_in,
    shot,
    sign_in,
)
from tests.e2e.stack_process import StackProcess

_missing = chromium_missing()
if _missing and os.environ.get("CI"):
    raise RuntimeError(f"browser tests cannot run in CI: {_missing}")
pytestmark = pytest.mark.skipif(_missing is not None, reason=_missing or "")

OWNER = "owner@studio.example"
CREATOR = "creator@studio.example"
VIEWER = "viewer@studio.example"
BILLING = "billing@studio.example"
PAGES = ("usage", "calculate", "billing", "members", "ledger")


@pytest.fixture(scope="module", autouse=True)
def warm_functions(product_stack: StackProcess, demo: dict[str, Any]) -> None:
    """Each function's first call starts its instance (a process importing the handler): done here once,
    so the pages' waits measure the app, not cold starts."""
    token = product_stack.token(OWNER)
    org = f"/orgs/{demo['org_id']}"
    for path in (
        "/me",
        "/plans",
        *(f"{org}/{p}" for p in ("balance", "members", "settings", "invites", "ledger")),
    ):
        product_stack.request("GET", path, token=token)
    for path in (f"{org}/storage", f"{org}/subscription"):
        product_stack.request("GET", path, token=token)
    product_stack.request("POST", f"{org}/quotes", token=token, body={"usage": {"shots": {"Q1": 1}}})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser profile per test (own session storage), failing the test on any script error."""
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"script errors in the page: {errors}"


def balance(stack: StackProcess, org: str, email: str) -> dict[str, Any]:
    reply = stack.request("GET", f"/orgs/{org}/balance", token=stack.token(email))
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.json()
    return result


def pack_credits(view: dict[str, Any]) -> int:
    return sum(int(lot["remaining"]) for lot in view["packs"])


def test_sign_in_and_read_the_meters(product_stack: StackProcess, demo: dict[str, Any], page: Any) -> None:
    # Given the demo studio and its owner at the sign-in page
    page.goto(product_stack.api + "/")
    page.get_by_role("heading", name="Sign in to billing").wait_for()
    shot(page, "01-sign-in")
    # When they sign in
    sign_in(page, product_stack.api, OWNER)
    # Then Plan & Usage shows the API's numbers: spendable, held, the monthly meter and every lot
    expected = balance(product_stack, demo["org_id"], OWNER)
    assert page.get_by_test_id("spendable").inner_text() == credits_text(expected["spendable"])
    assert page.get_by_test_id("held").inner_text() == credits_text(expected["held"])
    monthly = expected["monthly"]
    meter = page.get_by_role("img", name="Monthly allowance used")
    assert f"{credits_text(monthly['used'])} of {credits_text(monthly['allowance'])}" in meter.get_attribute(
        "aria-label"
    )
    rows = page.locator("table.lots tbody tr")
    lots = expected["bank"] + expected["grants"] + expected["packs"]
    assert rows.count() == len(lots)
    soonest = min((lot for lot in lots if lot["expires_at"]), key=lambda lot: lot["expires_at"])
    assert credits_text(soonest["remaining"]) in page.get_by_test_id("expires-next").inner_text()
    # And the storage meter shows the API's used bytes against the plan's quota
    storage = product_stack.request(
        "GET", f"/orgs/{demo['org_id']}/storage", token=product_stack.token(OWNER)
    ).json()
    label = page.get_by_role("img", name="Storage used").get_attribute("aria-label")
    assert label.endswith(f"({round(100 * storage['used_bytes'] / storage['quota_bytes'])}%)"), label
    shot(page, "02-plan-and-usage")


def test_calculate_run_and_see_the_meter_move(
    product_stack: StackProcess, demo: dict[str, Any], page: Any
) -> None:
    org = demo["org_id"]
    before = balance(product_stack, org, CREATOR)
    sign_in(page, product_stack.api, CREATOR)
    page.get_by_role("link", name="Calculate").click()
    # Given three Q2 shots
    page.get_by_label("Q2 shots").fill("3")
    page.get_by_label("Job name (optional)").fill(f"web-{uuid.uuid4().hex[:8]}")
    # When the creator calculates
    page.get_by_role("button", name="Calculate", exact=True).click()
    # Then the quote shows 600 credits, its breakdown, before/after and the price lock
    assert page.get_by_test_id("quote-credits").inner_text() == "600"
    assert page.get_by_role("cell", name="Shots Q2").is_visible()
    assert number_in(page.get_by_test_id("balance-after").inner_text()) == before["spendable"] - 600
    assert "Price locked for 1" in page.get_by_test_id("price-lock").inner_text()
    shot(page, "03-quote")
    # When they run it (a debit at the quote's price)
    page.get_by_test_id("run").click()
    page.get_by_text("Charged 600 credits").wait_for()
    shot(page, "04-run")
    # Then the balance moved by exactly the quote, and Plan & Usage shows it
    after = balance(product_stack, org, CREATOR)
    assert after["spendable"] == before["spendable"] - 600
    page.get_by_role("link", name="Plan & Usage").click()
    page.get_by_test_id("spendable").wait_for()
    assert page.get_by_test_id("spendable").inner_text() == credits_text(after["spendable"])
    meter = page.get_by_role("img", name="Monthly allowance used").get_attribute("aria-label")
    assert credits_text(after["monthly"]["used"]) in meter

    # And a long job reserves its credits as a hold instead
    page.get_by_role("link", name="Calculate").click()
    page.get_by_label("Q1 shots").fill("1")
    page.get_by_role("button", name="Calculate", exact=True).click()
    page.get_by_label("Reserve as a hold").check()
    page.get_by_test_id("run").click()
    page.get_by_text("Held 80 credits").wait_for()
    held = balance(product_stack, org, CREATOR)
    assert held["held"] == after["held"] + 80
    assert held["spendable"] == after["spendable"] - 80


def test_out_of_credit_dialog_offers_upgrade_pack_and_cancel(
    product_stack: StackProcess, demo: dict[str, Any], page: Any
) -> None:
    org = demo["org_id"]
    sign_in(page, product_stack.api, OWNER)
    page.get_by_role("link", name="Calculate").click()
    # Given a job far bigger than the balance
    page.get_by_label("Q3 shots").fill("1000")
    page.get_by_role("button", name="Calculate", exact=True).click()
    # Then the out-of-credit dialog opens with the API's options
    dialog = page.get_by_role("dialog", name="Not enough credits")
    dialog.wait_for()
    quote = product_stack.request(
        "POST",
        f"/orgs/{org}/quotes",
        token=product_stack.token(OWNER),
        body={"usage": {"shots": {"Q3": 1000}}},
    ).json()
    pack = quote["options"]["pack"]
    assert (
        f"{credits_text(pack['credits'])} credits for ${pack['price_cents'] / 100:,.2f}"
        in dialog.inner_text()
    )
    assert quote["options"]["upgrade"]["name"] in dialog.inner_text()
    assert page.evaluate("() => document.activeElement.closest('dialog') !== null"), (
        "focus moves into the dialog"
    )
    assert not axe_violations(page, "dialog"), describe(axe_violations(page, "dialog"))
    shot(page, "05-out-of-credit")
    # When the pack is bought: without a card on file the API sends it to Stripe Checkout, which
    # localstripe does not have; whatever Stripe answers reads as words in the dialog
    dialog.get_by_test_id("buy-pack").click()
    answer = dialog.get_by_role("status")
    answer.wait_for()
    page.wait_for_function("() => document.querySelector('dialog .dialog-status').textContent.length > 0")
    assert "_" not in answer.inner_text() and answer.inner_text().endswith(".")
    # And Cancel closes the dialog and nothing was charged
    before = balance(product_stack, org, OWNER)
    dialog.get_by_role("button", name="Cancel and go back").click()
    assert not dialog.is_visible()
    assert balance(product_stack, org, OWNER)["spendable"] == before["spendable"]


def test_a_card_added_in_the_page_pays_a_pack_through_localstripe_and_the_meter_moves(
    product_stack: StackProcess, demo: dict[str, Any], page: Any
) -> None:
    org = demo["org_id"]
    sign_in(page, product_stack.api, OWNER)
    page.get_by_role("link", name="Plan & payment").click()
    # Given the owner adds a card: a SetupIntent from the API, confirmed by Stripe.js (localstripe's)
    page.get_by_role("button", name="Add a card").click()
    page.get_by_label("Card number").fill("4242424242424242")
    page.get_by_label("Expiry month (MM)").fill("12")
    page.get_by_label("Expiry year (YY)").fill("30")
    page.get_by_label("Security code (CVC)").fill("123")
    page.get_by_label("Postal code").fill("75001")
    page.get_by_role("button", name="Save card").click()
    # Then the card is on file at Stripe (localstripe) and is the default
    page.get_by_role("rowheader", name="VISA •••• 4242").wait_for()
    cards = product_stack.request("GET", f"/orgs/{org}/payment-methods", token=product_stack.token(OWNER))
    assert [(c["last4"], c["default"]) for c in cards.json()["payment_methods"]] == [("4242", True)]
    assert page.locator(".alert-error").count() == 0, "tax ids, invoices and statements read too"
    shot(page, "05b-card-saved")
    # When a job bigger than the balance is calculated and the dialog's pack is bought
    before = balance(product_stack, org, OWNER)
    page.get_by_role("link", name="Calculate").click()
    page.get_by_label("Q3 shots").fill("1000")
    page.get_by_role("button", name="Calculate", exact=True).click()
    dialog = page.get_by_role("dialog", name="Not enough credits")
    dialog.wait_for()
    dialog.get_by_test_id("buy-pack").click()
    # Then localstripe takes the payment, the pack lands once, and the page says so in words
    page.wait_for_function(
        "() => /credits added/.test(document.querySelector('dialog .dialog-status').textContent)",
        timeout=45_000,
    )
    after = balance(product_stack, org, OWNER)
    purchases = product_stack.request("GET", f"/orgs/{org}/credit-packs", token=product_stack.token(OWNER))
    (paid,) = [p for p in purchases.json()["purchases"] if p["status"] == "paid"]
    bought = paid["credits"]
    assert f"{credits_text(bought)} credits added" in dialog.inner_text()
    assert pack_credits(after) == pack_credits(before) + bought
    assert after["spendable"] >= before["spendable"] + bought  # a hold may expire meanwhile, never less
    shot(page, "05c-pack-paid")
    # And the meter moves on Plan & Usage
    dialog.get_by_role("button", name="Cancel and go back").click()
    page.get_by_role("link", name="Plan & Usage").click()
    page.get_by_role("heading", name="Plan & Usage").wait_for()
    assert page.get_by_test_id("spendable").inner_text() == credits_text(after["spendable"])


def test_a_new_linkedin_user_meets_the_trial_limits(product_stack: StackProcess, page: Any) -> None:
    # Given someone new who signs in with LinkedIn (their personal org starts the Starter trial)
    email = f"indie-{uuid.uuid4().hex[:6]}@film.example"
    sign_in(page, product_stack.api, email, linkedin=True)
    assert page.locator(".plan-badge").inner_text() == "Starter (trial)"
    assert page.get_by_test_id("spendable").inner_text() == "800"
    # When a job costs more than the trial's 800 credits
    page.get_by_role("link", name="Calculate").click()
    page.get_by_label("Q3 shots").fill("3")
    page.get_by_role("button", name="Calculate", exact=True).click()
    dialog = page.get_by_role("dialog", name="Not enough credits")
    dialog.wait_for()
    # Then the dialog offers the next plan that covers it, and the smallest pack
    assert "$35.00 a month · 33,000 credits a month" in dialog.inner_text()
    assert "1,000 credits for $11.50" in dialog.inner_text()
    shot(page, "05b-trial-out-of-credit")
    # And the upgrade (a Stripe Checkout subscription, which localstripe lacks) answers in words
    dialog.get_by_role("button", name="Upgrade to Creator").click()
    page.wait_for_function("() => document.querySelector('dialog .dialog-status').textContent.length > 0")
    status = dialog.locator(".dialog-status").inner_text()
    assert "_" not in status and status.endswith("."), status
    # And Escape closes the dialog, back to the quote
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert page.get_by_role("button", name="See options").is_visible()


def test_invite_a_member_who_accepts(
    product_stack: StackProcess, demo: dict[str, Any], page: Any, browser: Any
) -> None:
    org = demo["org_id"]
    email = f"new-{uuid.uuid4().hex[:6]}@studio.example"
    sign_in(page, product_stack.api, OWNER)
    page.get_by_role("link", name="Members").click()
    # When the owner invites someone as a viewer
    invites = page.locator("section", has_text="Invites")
    invites.get_by_label("E-mail").fill(email)
    invites.get_by_label("Role").select_option("viewer")
    invites.get_by_role("button", name="Send invite").click()
    # Then the invite is listed, pending, and the API holds it
    row = page.get_by_role("row", name=email)
    row.wait_for()
    assert "pending" in row.inner_text()
    listed = product_stack.request("GET", f"/orgs/{org}/invites", token=product_stack.token(OWNER)).json()
    assert any(i["email"] == email and i["role"] == "viewer" for i in listed["invites"])
    shot(page, "06-members-invite")
    # When the invitee opens the e-mail's link, signs in with that address and accepts
    link = invite_link(product_stack.info["moto"]["endpoint"], email)
    assert link.startswith(product_stack.api + "/invites/accept?token=")
    invitee = browser.new_context(viewport=DESKTOP).new_page()
    try:
        invitee.goto(link)
        invitee.get_by_text("Sign in with the e-mail address your invite was sent to").wait_for()
        invitee.get_by_label("E-mail").fill(email)
        invitee.get_by_role("button", name="Sign in with e-mail").click()
        invitee.get_by_role("heading", name="You are invited").wait_for()
        shot(invitee, "06b-accept-invite")
        invitee.get_by_role("button", name="Accept invite").click()
        invitee.get_by_test_id("spendable").wait_for()
        # Then they are in the studio, as a viewer
        assert invitee.locator("#org-select option:checked").inner_text() == "Demo Studio (Viewer)"
    finally:
        invitee.context.close()
    joined = product_stack.request("GET", f"/orgs/{org}/members", token=product_stack.token(OWNER)).json()
    assert any(m["email"] == email and m["role"] == "viewer" for m in joined["members"])
    # And an API refusal reads as words, not a code: a limit past what the API accepts
    page.get_by_label(f"Monthly limit for {CREATOR} (credits)").fill("5000000000")
    page.get_by_role("button", name=f"Save monthly limit for {CREATOR}").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text().startswith("Monthly limit: should be less than or equal to")
    assert "validation_error" not in alert.inner_text()


def test_ledger_filters_pages_and_exports_csv(
    product_stack: StackProcess, demo: dict[str, Any], page: Any
) -> None:
    org = demo["org_id"]
    sign_in(page, product_stack.api, OWNER)
    page.get_by_role("link", name="Ledger").click()
    page.locator("table.ledger").wait_for()
    # When the owner keeps only job charges, ten a page
    page.get_by_label("Type").select_option("debit")
    page.get_by_label("Per page").select_option("10")
    page.get_by_role("button", name="Apply filters").click()
    loaded = page.locator(".ledger-table:not([aria-busy])")
    loaded.wait_for()
    kinds = page.locator("table.ledger tbody tr td:nth-child(2)").all_inner_texts()
    assert kinds and set(kinds) == {"Job charged"}
    first_page = page.locator("table.ledger tbody tr").all_inner_texts()
    # Then the next page holds other entries
    if page.get_by_role("button", name="Next page").is_enabled():
        page.get_by_role("button", name="Next page").click()
        loaded.wait_for()
        assert page.get_by_text("Page 2", exact=True).is_visible()
        assert page.locator("table.ledger tbody tr").all_inner_texts() != first_page
        page.get_by_role("button", name="Previous page").click()
        loaded.wait_for()
        assert page.locator("table.ledger tbody tr").all_inner_texts() == first_page
    shot(page, "07-ledger")
    # And the CSV export holds every debit the API lists, as a spreadsheet
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    text = download.value.path().read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    api = product_stack.request(
        "GET", f"/orgs/{org}/ledger?type=debit&limit=500", token=product_stack.token(OWNER)
    ).json()
    assert [r["entry_id"] for r in rows] == [e["entry_id"] for e in api["entries"]]
    assert download.value.suggested_filename.startswith(f"ledger-{org}-")


def test_a_viewer_sees_every_page_read_only(
    product_stack: StackProcess, demo: dict[str, Any], page: Any
) -> None:
    sign_in(page, product_stack.api, VIEWER)
    page.get_by_role("link", name="Calculate").click()
    page.get_by_text("You are signed in as a viewer").wait_for()
    assert page.get_by_label("Q1 shots").is_disabled()
    assert page.get_by_role("button", name="Calculate", exact=True).is_disabled()
    shot(page, "08-viewer-calculate")
    page.get_by_role("link", name="Members").click()
    page.get_by_text("only owners change members").wait_for()
    assert page.locator("table.members select, table.members button").count() == 0
    assert page.get_by_role("button", name="Send invite").count() == 0
    assert page.locator(".toggles input:not([disabled])").count() == 0
    page.get_by_role("link", name="Plan & payment").click()
    page.get_by_text("only owners change them").wait_for()
    assert page.get_by_role("button", name="Upgrade now").count() == 0
    assert page.get_by_role("button", name="Buy credits").count() == 0
    assert page.get_by_role("heading", name="Payment methods").count() == 0


def test_a_billing_member_manages_money_not_plans_or_people(
    product_stack: StackProcess, demo: dict[str, Any], page: Any
) -> None:
    sign_in(page, product_stack.api, BILLING)
    page.get_by_role("link", name="Plan & payment").click()
    page.get_by_text("you manage payment details; only owners change the plan").wait_for()
    # Packs, payment methods, tax ids and invoices are theirs; plan changes are not
    assert page.get_by_role("button", name="Buy credits").is_enabled()
    for heading in ("Payment methods", "Tax ids (VAT)", "Invoices", "Monthly statements"):
        assert page.get_by_role("heading", name=heading).is_visible()
    assert page.get_by_role("button", name="Upgrade now").count() == 0
    assert page.get_by_role("button", name="Downgrade at cycle end").count() == 0
    page.get_by_role("link", name="Members").click()
    page.get_by_text("only owners change members").wait_for()
    assert page.locator("table.members select").count() == 0


def test_a_monthly_limit_set_by_the_owner_stops_the_creator_in_words(
    product_stack: StackProcess, demo: dict[str, Any], browser: Any, page: Any
) -> None:
    org = demo["org_id"]
    creator_id = next(m["sub"] for m in demo["members"] if m["email"] == CREATOR)
    sign_in(page, product_stack.api, OWNER)
    page.get_by_role("link", name="Members").click()
    # Given the owner caps the creator at 1 credit this cycle: below any job, whatever they spent so far
    # in this cycle (an earlier test may have moved the stack's clock into a new cycle)
    page.get_by_label(f"Monthly limit for {CREATOR} (credits)").fill("1")
    page.get_by_role("button", name=f"Save monthly limit for {CREATOR}").click()
    page.get_by_text(f"Monthly limit saved for {CREATOR}.").wait_for()
    try:
        # When the creator runs a job
        creator = browser.new_context(viewport=DESKTOP).new_page()
        try:
            sign_in(creator, product_stack.api, CREATOR)
            creator.get_by_role("link", name="Calculate").click()
            creator.get_by_label("Q1 shots").fill("1")
            creator.get_by_role("button", name="Calculate", exact=True).click()
            before = balance(product_stack, org, CREATOR)
            creator.get_by_test_id("run").click()
            # Then the refusal reads as words and nothing is charged
            alert = creator.get_by_role("alert")
            alert.wait_for()
            assert "monthly spending limit" in alert.inner_text()
            shot(creator, "09-member-limit")
            assert balance(product_stack, org, CREATOR)["spendable"] == before["spendable"]
        finally:
            creator.context.close()
    finally:
        product_stack.request(
            "PATCH",
            f"/orgs/{org}/members/{creator_id}",
            token=product_stack.token(OWNER),
            body={"monthly_limit": None},
        )


def test_sign_out_returns_to_the_sign_in_page(
    product_stack: StackProcess, demo: dict[str, Any], page: Any
) -> None:
    sign_in(page, product_stack.api, VIEWER)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to billing").wait_for()
    page.reload()
    page.get_by_role("heading", name="Sign in to billing").wait_for()


def test_every_problem_code_of_the_api_reads_as_words(product_stack: StackProcess, page: Any) -> None:
    from act3_billing.http.problems import STATUS_BY_CODE

    page.goto(product_stack.api + "/")
    page.get_by_label("E-mail").wait_for()
    messages: dict[str, str] = page.evaluate(
        """async (codes) => {
            const { ApiError } = await import('/js/api.js');
            const out = {};
            for (const [code, status] of Object.entries(codes)) {
                const problem = { code, status, title: 'RAW TITLE', detail: 'RAW DETAIL', required: 500,
                    available: 100, shortfall: 400, role: 'viewer',
                    errors: [{ loc: ['body', 'email'], msg: "String should match pattern '^x$'" }] };
                out[code] = new ApiError(status, problem).message;
            }
            return out;
        }""",
        STATUS_BY_CODE,
    )
    # Each code has its own sentence in web/js/api.js (a new code of the API needs one there too)
    for code, message in messages.items():
        assert message and "RAW" not in message and code not in message, f"{code}: {message!r}"
    assert messages["validation_error"] == "E-mail: is not in the expected form."
    assert messages["insufficient_credits"].startswith("Not enough credits: 500 needed, 100 available")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_is_accessible_and_fits(
    product_stack: StackProcess, demo: dict[str, Any], browser: Any, viewport: dict[str, int]
) -> None:
    context = browser.new_context(viewport=viewport)
    tab = context.new_page()
    try:
        tab.goto(product_stack.api + "/")
        tab.get_by_label("E-mail").wait_for()
        assert not axe_violations(tab), describe(axe_violations(tab))
        sign_in(tab, product_stack.api, OWNER)
        # The keyboard: the first Tab reaches "Skip to content", which moves focus to the page
        tab.goto(f"{product_stack.api}/#/calculate")
        tab.reload()
        tab.locator(".page h1").wait_for()
        tab.keyboard.press("Tab")
        assert tab.evaluate("() => document.activeElement.textContent") == "Skip to content"
        tab.keyboard.press("Enter")
        assert tab.evaluate("() => document.activeElement.id") == "main"
        assert tab.evaluate("() => window.location.hash") == "#/calculate"
        for name in PAGES:
            tab.goto(f"{product_stack.api}/#/{name}")
            tab.locator(".page:not([aria-busy])").wait_for()
            tab.locator(".page h1").wait_for()
            violations = axe_violations(tab)
            assert not violations, f"{name}: {describe(violations)}"
            overflow = tab.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {viewport['width']}px"
            if viewport is PHONE:
                shot(tab, f"phone-{name}")
    finally:
        context.close()
