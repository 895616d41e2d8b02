// Plan & Usage: the monthly meter, the bank lots and what expires next, grants, packs, holds, debt,
// the spendable total and the storage meter.
import { clear, h, section } from "../dom.js";
import { credits, date, dateTime, daysUntil } from "../format.js";
import { barMeter, errorBox, optional, planName, plans, stackedBar, unavailable } from "../widgets.js";

const SOURCES = { monthly: "Monthly", bank: "Bank", grant: "Grant", pack: "Pack", transfer: "Transfer" };

function lotsOf(balance) {
  const lots = [];
  for (const lot of balance.bank || []) lots.push({ ...lot, source: "bank" });
  for (const lot of balance.grants || []) lots.push({ ...lot, source: "grant" });
  for (const lot of balance.transfers || []) lots.push({ ...lot, source: "transfer" });
  for (const lot of balance.packs || []) lots.push({ ...lot, source: "pack" });
  return lots;
}

function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  // Binary steps: the plans' "500 GB" are 500 × 1024³ bytes in the storage work's quota.
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value >= 10 || unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function balanceSummary(balance) {
  return h(
    "div",
    { class: "summary" },
    h("div", { class: "big-number" }, h("span", { class: "label" }, "Spendable now"), h("strong", { "data-testid": "spendable" }, credits(balance.spendable)), h("span", { class: "unit" }, "credits")),
    h(
      "div",
      { class: "big-number small" },
      h("span", { class: "label" }, "Held by running jobs"),
      h("strong", { "data-testid": "held" }, credits(balance.held)),
      h("span", { class: "unit" }, balance.held_expired ? `credits, ${credits(balance.held_expired)} of them from expired holds coming back` : "credits"),
    ),
    balance.debt ? h("div", { class: "big-number small warn" }, h("span", { class: "label" }, "Debt (paid first from new credits)"), h("strong", { "data-testid": "debt" }, credits(balance.debt)), h("span", { class: "unit" }, "credits")) : null,
  );
}

function monthlyMeter(balance) {
  const m = balance.monthly;
  if (!m) return h("p", { class: "muted" }, "No monthly allowance on this plan.");
  return barMeter({
    label: "Monthly allowance used",
    value: m.used,
    max: m.allowance,
    detail: `${credits(m.remaining)} left this cycle · cycle ends ${date(m.cycle_end)} (in ${daysUntil(m.cycle_end)} days)`,
  });
}

function composition(balance) {
  const sum = (list) => (list || []).reduce((s, l) => s + l.remaining, 0);
  return stackedBar(
    [
      { key: "monthly", label: "Monthly", value: balance.monthly ? balance.monthly.remaining : 0 },
      { key: "bank", label: "Bank", value: sum(balance.bank) },
      { key: "grant", label: "Grants", value: sum(balance.grants) + sum(balance.transfers) },
      { key: "pack", label: "Packs", value: sum(balance.packs) },
      { key: "held", label: "Held", value: balance.held || 0 },
    ],
    "Where your credits are",
  );
}

function lotsTable(balance) {
  const lots = lotsOf(balance);
  if (!lots.length) return h("p", { class: "muted" }, "No banked, granted or purchased credits.");
  const expiring = lots.filter((l) => l.expires_at && l.remaining > 0).sort((a, b) => a.expires_at.localeCompare(b.expires_at));
  const next = expiring[0];
  return [
    next
      ? h(
          "p",
          { class: "expires-next", "data-testid": "expires-next" },
          h("strong", {}, "Expires next: "),
          `${credits(next.remaining)} credits (${next.label || SOURCES[next.source]}) on ${date(next.expires_at)}, in ${daysUntil(next.expires_at)} days.`,
        )
      : null,
    h(
      "div",
      { class: "table-wrap", role: "region", "aria-label": "Credit lots", tabindex: 0 },
      h(
        "table",
        { class: "lots" },
        h("caption", { class: "visually-hidden" }, "Credit lots, in the order they are spent after the monthly allowance"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Source"), h("th", { scope: "col" }, "Lot"), h("th", { scope: "col", class: "num" }, "Left"), h("th", { scope: "col", class: "num hide-narrow" }, "Of"), h("th", { scope: "col" }, "Expires"))),
        h(
          "tbody",
          {},
          lots.map((lot) =>
            h(
              "tr",
              { class: lot === next ? "next" : null },
              h("td", {}, h("span", { class: `tag seg-${lot.source}` }, SOURCES[lot.source])),
              h("td", {}, lot.label || lot.lot_id),
              h("td", { class: "num" }, credits(lot.remaining)),
              h("td", { class: "num hide-narrow" }, credits(lot.granted)),
              h("td", {}, lot.expires_at ? `${date(lot.expires_at)} (${daysUntil(lot.expires_at)} d)` : "never"),
            ),
          ),
        ),
      ),
    ),
  ];
}

function storagePart(result, catalog, balance) {
  if (result.unavailable) return unavailable("The storage meter");
  if (result.error) return errorBox(result.error);
  const s = result.data;
  const plan = catalog.plans.find((p) => p.id === balance.plan_id);
  const quota = s.quota_bytes ?? (plan && plan.storage_gb ? plan.storage_gb * 1024 ** 3 : null);
  const used = s.used_bytes ?? s.bytes ?? 0;
  const fresh = s.meter && (s.meter.updated_at || s.meter.inventory_at);
  const projects = [...(s.projects || [])].sort((a, b) => b.bytes - a.bytes).slice(0, 5);
  return [
    quota
      ? barMeter({ label: "Storage used", value: used, max: quota, format: bytes, detail: `${s.media ? `media ${bytes(s.media.bytes)} · text ${bytes(s.text.bytes)}` : ""}${fresh ? ` · counted ${dateTime(fresh)}` : ""}` })
      : h("p", {}, `${bytes(used)} used (no limit on this plan).`),
    s.archive && s.archive.media_purge_due_at
      ? h("div", { class: "alert alert-warn", role: "alert" }, `Archive: media is deleted on ${date(s.archive.media_purge_due_at)}. Text assets stay downloadable. Upgrade before then to keep it.`)
      : null,
    projects.length
      ? h(
          "div",
          { class: "table-wrap", role: "region", "aria-label": "Storage by project", tabindex: 0 },
          h(
            "table",
            {},
            h("caption", { class: "visually-hidden" }, "Largest projects"),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Project"), h("th", { scope: "col", class: "num" }, "Media"), h("th", { scope: "col", class: "num" }, "Text"), h("th", { scope: "col", class: "num" }, "Files"))),
            h("tbody", {}, projects.map((p) => h("tr", {}, h("th", { scope: "row" }, p.project_id), h("td", { class: "num" }, bytes(p.media.bytes)), h("td", { class: "num" }, bytes(p.text.bytes)), h("td", { class: "num" }, credits(p.objects))))),
          ),
        )
      : null,
  ];
}

// Coming back to the tab shows fresh meters (spending happens elsewhere too: jobs, schedules).
let watching = false;
function refreshWhenShown(ctx) {
  if (watching) return;
  watching = true;
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && window.location.hash === "#/usage") ctx.rerender();
  });
}

export async function render(ctx, container) {
  refreshWhenShown(ctx);
  const [balance, catalog] = await Promise.all([ctx.api.get(`${ctx.orgPath}/balance`), plans(ctx)]);
  const [subscription, storage] = await Promise.all([
    optional(ctx.api.get(`${ctx.orgPath}/subscription`)),
    optional(ctx.api.get(`${ctx.orgPath}/storage`)),
  ]);
  const sub = subscription.data;
  const WARN = { past_due: "payment past due", unpaid: "unpaid", incomplete: "payment incomplete" };
  const subscriptionStatus = (sub && sub.status) || balance.subscription_status || balance.status;
  const status = WARN[subscriptionStatus] || null;
  const notes = [];
  if (balance.pending_plan_id && balance.monthly) {
    notes.push(`Changes to ${planName(catalog, balance.pending_plan_id)} when this cycle ends, ${date(balance.monthly.cycle_end)}.`);
  }
  if (balance.trial_ends_at) notes.push(`Free trial until ${date(balance.trial_ends_at)}.`);
  if (balance.archived_at) notes.push(`Archived since ${date(balance.archived_at)}: credits are kept, nothing can be spent until the plan is upgraded.`);
  clear(
    container,
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Plan & Usage"),
      h(
        "p",
        { class: "plan-line" },
        h("span", { class: "plan-badge" }, planName(catalog, balance.plan_id)),
        status ? h("span", { class: "tag tag-warn" }, status) : null,
        h("span", { class: "muted" }, ` · as of ${new Date(balance.as_of).toISOString().slice(11, 19)} UTC `),
        h("button", { type: "button", class: "secondary small", onclick: () => ctx.rerender() }, "Refresh"),
      ),
    ),
    notes.length ? h("p", { class: "alert alert-muted", "data-testid": "plan-notes" }, notes.join(" ")) : null,
    status
      ? h("div", { class: "alert alert-warn", role: "alert" }, "The last payment failed. Credits already granted stay; update the card in Plan & payment before Stripe's last retry, or the organization moves to the archive plan.")
      : null,
    balance.generation_enabled === false && !(balance.generation_reason === "past_due" && status) // said just above
      ? h("div", { class: "alert alert-warn", role: "alert" }, generationOff(balance))
      : null,
    section("Credits", balanceSummary(balance), composition(balance)),
    section("This cycle", monthlyMeter(balance)),
    section("Bank, grants and packs", h("p", { class: "hint" }, "Spent after the monthly allowance: bank (oldest first), then grants, then packs. Packs never expire."), lotsTable(balance)),
    section("Storage", storagePart(storage, catalog, balance)),
  );
}

// Why the org cannot generate (the balance's generation_reason), in words, with what to do about it.
function generationOff(balance) {
  if (balance.generation_reason === "linkedin_required") {
    return "The free trial's 800 monthly credits start with a LinkedIn sign-in: sign out and sign in with LinkedIn, or choose a paid plan in Plan & payment.";
  }
  if (balance.generation_reason === "trial_expired") {
    return "The free trial's six months are over. Choose a paid plan in Plan & payment to run jobs again; credits already granted stay.";
  }
  if (balance.generation_reason === "past_due") {
    return "The last payment failed, so nothing can be spent until it is paid. Update the card in Plan & payment; credits already granted stay.";
  }
  if (balance.generation_reason === "archived") {
    return "This organization is on the archive plan: its credits are kept but nothing can be spent until it upgrades in Plan & payment.";
  }
  return "Generation is off for this organization. Upgrade the plan in Plan & payment to run jobs again.";
}
