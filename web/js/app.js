// The app shell: configuration, sign-in, the signed-in user's organizations and role, and the pages.
import { ApiError, NetworkError, createApi } from "./api.js";
import { completeHostedSignIn, currentClaims, currentToken, signOut } from "./auth.js";
import { clear, h } from "./dom.js";
import { ROLE_NAMES } from "./format.js";
import * as accept from "./pages/accept.js";
import * as billing from "./pages/billing.js";
import * as calculate from "./pages/calculate.js";
import * as ledger from "./pages/ledger.js";
import * as members from "./pages/members.js";
import * as signin from "./pages/signin.js";
import * as usage from "./pages/usage.js";

const PAGES = { usage, calculate, billing, members, ledger, accept };
const ORG_KEY = "act3.org";
const DEFAULT_CONFIG = { api_base: "", auth: { kind: "local", sign_in_url: "/auth/local/sign-in", identity_providers: [] } };

// What each role may do, as the API decides it (SPEC §7); the API still checks every call.
export function permissions(membership) {
  const role = membership.role;
  const spender = role === "owner" || role === "creator";
  return {
    role,
    spend: spender && membership.may_spend !== false,
    spenderRole: spender,
    manageMembers: role === "owner",
    changePlan: role === "owner",
    payments: role === "owner" || role === "billing",
    buyPacks: role === "owner" || role === "billing",
    readOnly: role === "viewer",
  };
}

async function loadConfig() {
  try {
    const response = await fetch("/config.json", { cache: "no-store" });
    if (response.ok) return { ...DEFAULT_CONFIG, ...(await response.json()) };
  } catch {
    // the defaults are the local stack's
  }
  return DEFAULT_CONFIG;
}

function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  clear(el, h("p", { class: `toast-${kind}` }, message));
  el.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove("show"), 6000);
}

function pageName() {
  const name = (window.location.hash || "").replace(/^#\/?/, "").split("?")[0];
  return name;
}

// Back from Stripe Checkout: /orgs/{org}/billing?pack=paid (or subscription=started, …cancelled).
function captureStripeReturn() {
  const match = window.location.pathname.match(/^\/orgs\/([^/]+)\/billing\/?$/);
  if (!match) return null;
  const params = new URLSearchParams(window.location.search);
  localStorage.setItem(ORG_KEY, decodeURIComponent(match[1]));
  window.history.replaceState(null, "", "/#/billing");
  if (params.get("pack") === "paid") return "Payment received. The pack's credits appear as soon as Stripe confirms it.";
  if (params.get("subscription") === "started") return "Subscription started. The plan's credits arrive with the paid invoice.";
  if (params.get("pack") === "cancelled" || params.get("subscription") === "cancelled") return "Checkout was cancelled; nothing was charged.";
  return null;
}

async function main() {
  accept.captureInviteLink();
  const returned = captureStripeReturn();
  // The skip link moves focus without touching the hash (the hash is the page's address).
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main").focus();
  });
  const config = await loadConfig();
  const mainEl = document.getElementById("main");
  try {
    await completeHostedSignIn(config);
  } catch (error) {
    toast(error.message, "error");
  }
  if (!currentToken()) {
    document.title = "Sign in · ACT 3 AI Billing";
    signin.render({ config, toast }, mainEl);
    return;
  }
  const api = createApi({
    base: config.api_base,
    token: currentToken,
    onUnauthorized: () => {
      toast("Your session has ended. Sign in again.", "error");
      setTimeout(() => signOut(config), 1500);
    },
  });
  let me;
  try {
    me = await api.get("/me");
  } catch (error) {
    clear(mainEl, h("div", { class: "alert alert-error", role: "alert" }, error.message));
    return;
  }
  const ctx = { config, api, me, toast, claims: currentClaims(), cache: {} };
  const orgSelect = document.getElementById("org-select");
  const orgs = me.orgs || [];
  const saved = localStorage.getItem(ORG_KEY);
  const initial = orgs.find((o) => o.org_id === saved) || orgs.find((o) => !o.personal) || orgs[0];
  clear(
    orgSelect,
    orgs.map((o) =>
      h("option", { value: o.org_id, selected: o.org_id === initial?.org_id }, `${o.name} (${ROLE_NAMES[o.role] || o.role})`),
    ),
  );
  document.getElementById("whoami").textContent = me.email;
  document.getElementById("session").hidden = false;
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").addEventListener("click", () => signOut(config));

  function selectOrg(orgId) {
    const membership = orgs.find((o) => o.org_id === orgId);
    ctx.org = membership;
    ctx.orgPath = `/orgs/${encodeURIComponent(orgId)}`;
    ctx.can = permissions(membership);
    ctx.cache = {};
    localStorage.setItem(ORG_KEY, orgId);
  }

  let rendering = 0;
  async function route() {
    let name = pageName();
    if (!PAGES[name]) {
      name = "usage";
      if (window.location.hash !== "#/usage") history.replaceState(null, "", "#/usage");
    }
    for (const link of document.querySelectorAll("#nav a")) {
      if (link.dataset.page === name) {
        link.setAttribute("aria-current", "page");
        link.scrollIntoView({ block: "nearest", inline: "nearest" });
      }
      else link.removeAttribute("aria-current");
    }
    const label = document.querySelector(`#nav a[data-page="${name}"]`)?.textContent || "Invite";
    document.title = `${label} · ACT 3 AI Billing`;
    const ticket = ++rendering;
    const container = h("div", { class: "page", "aria-busy": "true" });
    clear(mainEl, container);
    try {
      await PAGES[name].render(ctx, container);
    } catch (error) {
      const known = error instanceof ApiError || error instanceof NetworkError;
      // A bug in a page (not an answer from the API) goes to the console too, where the browser
      // tests fail on it, and the reader gets words rather than a script's message.
      if (!known) console.error(`page ${name} failed to draw:`, error);
      if (ticket === rendering) {
        const words = known ? error.message : "This page could not be drawn. Reload to try again.";
        clear(container, h("div", { class: "alert alert-error", role: "alert" }, words));
      }
    }
    container.removeAttribute("aria-busy");
  }
  ctx.rerender = route;

  if (!initial) {
    clear(mainEl, h("p", { class: "alert" }, "You are not a member of any organization yet."));
    return;
  }
  selectOrg(initial.org_id);
  orgSelect.addEventListener("change", () => {
    selectOrg(orgSelect.value);
    route();
  });
  window.addEventListener("hashchange", async () => {
    await route();
    mainEl.focus();
  });
  await route();
  if (returned) toast(returned);
}

main();
