// Plan & payment: the plan (upgrade now, downgrade at cycle end, archive), credit packs, payment
// methods, tax ids, invoices with their PDFs and the monthly statements. Parts whose routes are not
// deployed yet say so.
import { newKey } from "../api.js";
import { clear, field, h, section, tableWrap } from "../dom.js";
import { credits, date, money } from "../format.js";
import { addCard } from "../cards.js";
import { buyPack, changePlan } from "../purchases.js";
import { busy, errorBox, optional, planName, plans, readOnlyNote, unavailable } from "../widgets.js";

const TAX_TYPES = [
  ["eu_vat", "EU VAT"],
  ["gb_vat", "UK VAT"],
  ["us_ein", "US EIN"],
  ["au_abn", "Australian ABN"],
  ["ca_bn", "Canadian BN"],
  ["ch_vat", "Swiss VAT"],
  ["no_vat", "Norwegian VAT"],
];

function listOf(data, key) {
  if (!data) return [];
  if (Array.isArray(data)) return data;
  return data[key] || data.data || [];
}

function planCards(ctx, catalog, balance, subscription, status) {
  const current = catalog.plans.find((p) => p.id === balance.plan_id);
  const rank = (id) => catalog.upgrade_order.indexOf(id);
  const pending = subscription && subscription.pending_plan_id;
  const shown = catalog.plans.filter((p) => !p.trial_months && (catalog.upgrade_order.includes(p.id) || p.id === "archive"));
  return h(
    "ul",
    { class: "plans" },
    shown.map((plan) => {
      const isCurrent = plan.id === balance.plan_id;
      const up = rank(plan.id) > rank(current ? current.id : "") || (current && current.id === "archive" && plan.id !== "archive");
      let action = null;
      if (isCurrent) action = h("p", { class: "tag" }, "Your plan");
      else if (pending === plan.id) action = h("p", { class: "tag tag-warn" }, `Starts ${date(subscription.current_period_end)}`);
      else if (plan.contract) action = h("a", { class: "button secondary", href: "mailto:sales@act3.ai?subject=Enterprise%20plan" }, "Contact sales");
      else if (ctx.can.changePlan) {
        const label = plan.id === "archive" ? "Move to archive" : up ? "Upgrade now" : "Downgrade at cycle end";
        const button = h("button", { type: "button", class: up ? "primary" : "secondary", "aria-label": `${label}: ${plan.name}` }, label);
        button.addEventListener("click", () => {
          if (plan.id === "archive" && !window.confirm("Archive keeps scripts and text, turns generation off and deletes media 30 days later. Continue?")) return;
          busy(button, async () => {
            clear(status);
            try {
              await changePlan(ctx, plan.id);
              ctx.toast(up ? `Upgraded to ${plan.name}.` : `${plan.name} starts at the end of this cycle.`);
              await ctx.rerender();
            } catch (error) {
              clear(status, error.unavailable ? unavailable("Plan changes") : errorBox(error));
            }
          });
        });
        action = button;
      }
      return h(
        "li",
        { class: `plan${isCurrent ? " current" : ""}` },
        h("h3", {}, plan.name),
        h("p", { class: "price" }, plan.contract ? "By contract" : plan.price_cents ? `${money(plan.price_cents, plan.currency)} / month` : "Free"),
        h(
          "ul",
          { class: "facts" },
          h("li", {}, plan.contract ? "Pooled credits" : `${credits(plan.monthly_credits)} credits a month`),
          plan.rollover_cap ? h("li", {}, `Bank up to ${credits(plan.rollover_cap)}`) : null,
          plan.storage_gb ? h("li", {}, `${plan.storage_gb} GB storage`) : plan.id === "archive" ? h("li", {}, "Text assets only; no generation") : null,
          plan.priority_queue ? h("li", {}, "Priority queue") : null,
        ),
        action,
      );
    }),
  );
}

function packForm(ctx, status) {
  const amount = h("input", { type: "number", min: 1000, step: 1000, value: 10000, inputmode: "numeric", name: "credits" });
  const button = h("button", { type: "submit", class: "primary" }, "Buy credits");
  const form = h("form", { class: "pack-form", novalidate: true }, field("Credits", amount, "In steps of 1,000. Priced at your plan's rate plus 15 %. Pack credits never expire."), h("div", { class: "actions" }, button));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const n = Number(amount.value);
    if (!Number.isInteger(n) || n < 1000 || n % 1000) {
      clear(status, errorBox(new Error("Credits: choose a whole number of thousands, at least 1,000.")));
      return;
    }
    busy(button, async () => {
      clear(status);
      try {
        const outcome = await buyPack(ctx, n, { onPending: () => clear(status, h("p", { class: "alert" }, "Payment sent. Waiting for Stripe to confirm…")) });
        if (outcome.redirected) return;
        clear(status, h("p", { class: outcome.added ? "alert alert-ok" : "alert" }, outcome.added ? `${credits(n)} credits added.` : "The payment is pending; the credits appear when Stripe confirms it."));
      } catch (error) {
        clear(status, error.unavailable ? unavailable("Credit packs") : errorBox(error));
      }
    });
  });
  return form;
}

function paymentMethods(ctx, result, status) {
  if (result.unavailable) return unavailable("Payment methods");
  if (result.error) return errorBox(result.error);
  const methods = listOf(result.data, "payment_methods");
  const portal = h("button", { type: "button", class: "secondary" }, "Manage cards in Stripe");
  portal.addEventListener("click", () =>
    busy(portal, async () => {
      try {
        const session = await ctx.api.post(`${ctx.orgPath}/billing-portal`, {}, { idempotencyKey: newKey("portal") });
        window.location.assign(session.url);
      } catch (error) {
        clear(status, error.unavailable ? unavailable("The billing portal") : errorBox(error));
      }
    }),
  );
  const rows = methods.map((pm) => {
    const card = pm.card || pm;
    const id = encodeURIComponent(pm.payment_method_id || pm.id);
    const label = `${(card.brand || pm.type || "card").toUpperCase()} •••• ${card.last4 || "????"}`;
    const makeDefault = h("button", { type: "button", class: "secondary small", "aria-label": `Make ${label} the default` }, "Make default");
    makeDefault.addEventListener("click", () => busy(makeDefault, () => ctx.api.post(`${ctx.orgPath}/payment-methods/${id}/default`, {}, { idempotencyKey: newKey("pm-default") }).then(ctx.rerender, (e) => clear(status, errorBox(e)))));
    const remove = h("button", { type: "button", class: "danger small", "aria-label": `Remove ${label}` }, "Remove");
    remove.addEventListener("click", () => busy(remove, () => ctx.api.del(`${ctx.orgPath}/payment-methods/${id}`, { idempotencyKey: newKey("pm-remove") }).then(ctx.rerender, (e) => clear(status, errorBox(e)))));
    return h("tr", {}, h("th", { scope: "row" }, label), h("td", {}, card.exp_month ? `${card.exp_month}/${card.exp_year}` : "—"), h("td", {}, pm.default ? h("span", { class: "tag" }, "Default") : makeDefault), h("td", {}, pm.default ? null : remove));
  });
  return [
    rows.length
      ? tableWrap("Payment methods", h("table", {}, h("caption", { class: "visually-hidden" }, "Payment methods"), h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Card"), h("th", { scope: "col" }, "Expires"), h("th", { scope: "col" }, "Default"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))), h("tbody", {}, rows)))
      : h("p", { class: "muted" }, "No card on file yet: add one here or in Stripe's billing portal, or pay a pack through Stripe Checkout."),
    h("div", { class: "actions" }, addCard(ctx, { hasDefault: methods.some((pm) => pm.default), status }), portal),
  ];
}

function taxIds(ctx, result, status) {
  if (result.unavailable) return unavailable("Tax ids");
  if (result.error) return errorBox(result.error);
  const ids = listOf(result.data, "tax_ids");
  const type = h("select", { name: "type" }, TAX_TYPES.map(([v, label]) => h("option", { value: v }, label)));
  const value = h("input", { type: "text", name: "value", autocomplete: "off", required: true, placeholder: "e.g. DE123456789" });
  const add = h("button", { type: "submit", class: "primary" }, "Add tax id");
  const form = h("form", { class: "tax-form", novalidate: true }, h("div", { class: "grid-3" }, field("Type", type), field("Number", value)), h("div", { class: "actions" }, add));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(add, () => ctx.api.post(`${ctx.orgPath}/tax-ids`, { type: type.value, value: value.value.trim() }, { idempotencyKey: newKey("tax") }).then(ctx.rerender, (e) => clear(status, errorBox(e))));
  });
  return [
    ids.length
      ? h("ul", { class: "plain" }, ids.map((t) => {
          const remove = h("button", { type: "button", class: "danger small", "aria-label": `Remove tax id ${t.value}` }, "Remove");
          remove.addEventListener("click", () => busy(remove, () => ctx.api.del(`${ctx.orgPath}/tax-ids/${encodeURIComponent(t.tax_id || t.id)}`, { idempotencyKey: newKey("tax-remove") }).then(ctx.rerender, (e) => clear(status, errorBox(e)))));
          return h("li", {}, `${(TAX_TYPES.find(([v]) => v === t.type) || [t.type, t.type])[1]} ${t.value} `, t.verification ? h("span", { class: "tag" }, typeof t.verification === "string" ? t.verification : t.verification.status) : null, " ", remove);
        }))
      : h("p", { class: "muted" }, "No tax id on the invoices yet."),
    form,
  ];
}

function invoices(result) {
  if (result.unavailable) return unavailable("Invoices");
  if (result.error) return errorBox(result.error);
  const list = listOf(result.data, "invoices");
  if (!list.length) return h("p", { class: "muted" }, "No invoices yet.");
  return h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": "Invoices", tabindex: 0 },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, "Invoices"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Invoice"), h("th", { scope: "col" }, "Date"), h("th", { scope: "col", class: "num" }, "Amount"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "PDF"))),
      h(
        "tbody",
        {},
        list.map((inv) => {
          const created = typeof inv.created === "number" ? new Date(inv.created * 1000).toISOString() : inv.created || inv.created_at;
          const pdf = inv.invoice_pdf || inv.pdf_url || inv.pdf;
          const amount = inv.total ?? inv.amount_due ?? inv.amount_cents;
          return h("tr", {}, h("th", { scope: "row" }, inv.number || inv.invoice_id || inv.id), h("td", {}, date(created)), h("td", { class: "num" }, money(amount, inv.currency || "usd")), h("td", {}, inv.status || "—"), h("td", {}, pdf ? h("a", { href: pdf, target: "_blank", rel: "noopener" }, "Download PDF", h("span", { class: "visually-hidden" }, ` for invoice ${inv.number || inv.invoice_id || inv.id}`)) : "—"));
        }),
      ),
    ),
  );
}

// Monthly statements are per calendar month (YYYY-MM): this month (still running) and the five before.
function months(asOf) {
  const now = new Date(asOf || Date.now());
  const out = [];
  for (let i = 0; i < 6; i += 1) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    out.push({ value: d.toISOString().slice(0, 7), label: d.toLocaleDateString("en-GB", { month: "long", year: "numeric", timeZone: "UTC" }) + (i === 0 ? " (so far)" : "") });
  }
  return out;
}

function statements(ctx, balance, status) {
  const cycle = h("select", { name: "cycle" }, months(balance.as_of).map((m) => h("option", { value: m.value }, m.label)));
  const button = h("button", { type: "submit", class: "secondary" }, "Download statement");
  const form = h("form", { class: "statement-form" }, field("Month", cycle), h("div", { class: "actions" }, button));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      try {
        const statement = await ctx.api.get(`${ctx.orgPath}/statements/${encodeURIComponent(cycle.value)}`);
        window.open(statement.url, "_blank", "noopener");
      } catch (error) {
        clear(status, error.unavailable ? unavailable("Monthly statements") : errorBox(error));
      }
    });
  });
  return [h("p", { class: "hint" }, "A PDF of the month's credits: granted, spent by member and job type, rolled over, expired, packs and debt."), form];
}

const STATUS_WORDS = {
  none: "no paid subscription",
  active: "active",
  trialing: "trial",
  past_due: "payment past due",
  unpaid: "unpaid",
  incomplete: "payment incomplete",
  canceled: "cancelled",
  checkout_open: "waiting for checkout",
};

function subscriptionWords(catalog, balance, sub) {
  const parts = [`${planName(catalog, sub.plan_id || balance.plan_id)}: ${STATUS_WORDS[sub.status] || sub.status}`];
  if (sub.cancel_at_period_end && sub.current_period_end) parts.push(`moves to Archive on ${date(sub.current_period_end)}`);
  else if (sub.pending_plan_id) parts.push(`changes to ${planName(catalog, sub.pending_plan_id)} on ${date(sub.current_period_end)}`);
  else if (sub.current_period_end && sub.status !== "none") parts.push(`renews ${date(sub.current_period_end)}`);
  if (sub.next_invoice_at) parts.push(`next invoice ${date(sub.next_invoice_at)}`);
  return parts.join(" · ");
}

function purchases(result) {
  if (!result || result.unavailable) return null;
  if (result.error) return errorBox(result.error);
  const list = listOf(result.data, "purchases").slice(0, 10);
  if (!list.length) return null;
  const STATES = { pending: "waiting for payment", paid: "paid", failed: "failed", refunded: "refunded", disputed: "disputed" };
  return h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": "Pack purchases", tabindex: 0 },
    h(
      "table",
      { class: "purchases" },
      h("caption", {}, "Recent pack purchases"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Date"), h("th", { scope: "col", class: "num" }, "Credits"), h("th", { scope: "col", class: "num" }, "Price"), h("th", { scope: "col" }, "Status"))),
      h("tbody", {}, list.map((p) => h("tr", {}, h("td", {}, date(p.created_at)), h("td", { class: "num" }, credits(p.credits)), h("td", { class: "num" }, money(p.price_cents, p.currency)), h("td", {}, STATES[p.status] || p.status)))),
    ),
  );
}

export async function render(ctx, container) {
  const [balance, catalog] = await Promise.all([ctx.api.get(`${ctx.orgPath}/balance`), plans(ctx)]);
  const pay = ctx.can.payments;
  const [subscription, methods, taxes, invoiceList, packList] = await Promise.all([
    optional(ctx.api.get(`${ctx.orgPath}/subscription`)),
    pay ? optional(ctx.api.get(`${ctx.orgPath}/payment-methods`)) : null,
    pay ? optional(ctx.api.get(`${ctx.orgPath}/tax-ids`)) : null,
    pay ? optional(ctx.api.get(`${ctx.orgPath}/invoices`)) : null,
    ctx.can.buyPacks ? optional(ctx.api.get(`${ctx.orgPath}/credit-packs`)) : null,
  ]);
  const planStatus = h("div", { role: "status" });
  const packStatus = h("div", { role: "status" });
  const payStatus = h("div", { role: "status" });
  const sub = subscription.data;
  const subLine = subscription.unavailable
    ? unavailable("Subscription details (status, period, next invoice)")
    : subscription.error
      ? errorBox(subscription.error)
      : h("p", { class: "sub-line", "data-testid": "subscription" }, subscriptionWords(catalog, balance, sub));
  clear(
    container,
    h("div", { class: "page-head" }, h("h1", {}, "Plan & payment"), h("p", { class: "plan-line" }, "Current plan: ", h("span", { class: "plan-badge" }, planName(catalog, balance.plan_id)))),
    ctx.can.changePlan ? null : readOnlyNote(ctx, pay ? "you manage payment details; only owners change the plan." : "plans are shown for reference; only owners change them and only owners and billing members see payment details."),
    section("Plan", subLine, planCards(ctx, catalog, balance, sub, planStatus), planStatus, h("p", { class: "hint" }, "Upgrades start a new cycle at once (unused monthly credits roll into the bank); downgrades wait for the end of the cycle.")),
    ctx.can.buyPacks ? section("Buy credits", packForm(ctx, packStatus), packStatus, purchases(packList)) : null,
    pay ? section("Payment methods", payStatus, paymentMethods(ctx, methods, payStatus)) : null,
    pay ? section("Tax ids (VAT)", taxIds(ctx, taxes, payStatus)) : null,
    pay ? section("Invoices", invoices(invoiceList)) : null,
    pay ? section("Monthly statements", statements(ctx, balance, payStatus)) : null,
  );
}
