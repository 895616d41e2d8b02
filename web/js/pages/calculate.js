// Calculate: a job form → the quote (breakdown, before/after, 15-minute price lock) → Run (debit or
// hold) or Cancel; when credits are short, the out-of-credit dialog (upgrade, pack, cancel).
import { newKey } from "../api.js";
import { clear, field, h, section } from "../dom.js";
import { credits, money, percent } from "../format.js";
import { buyPack, changePlan } from "../purchases.js";
import { busy, errorBox, plans, readOnlyNote } from "../widgets.js";
import { balanceSummary } from "./usage.js";

const GPU_CLASSES = ["t4", "a10g", "l40s", "a100", "h100"];
const TIERS = [
  ["Q1", 80],
  ["Q2", 200],
  ["Q3", 400],
];

function numberInput(name, { step = 1, max = 100000000 } = {}) {
  return h("input", { type: "number", name, min: 0, max, step, inputmode: step === 1 ? "numeric" : "decimal", value: "0" });
}

function usageFrom(form) {
  const value = (name) => Number(form.elements[name].value || 0);
  const usage = {};
  const shots = {};
  for (const [tier] of TIERS) if (value(tier) > 0) shots[tier] = value(tier);
  if (Object.keys(shots).length) usage.shots = shots;
  if (value("gpu_seconds") > 0) usage.gpu_seconds = { [form.elements.gpu_class.value]: value("gpu_seconds") };
  for (const name of ["cpu_seconds", "tts_characters", "upscale_output_seconds", "mocap_capture_minutes"]) {
    if (value(name) > 0) usage[name] = value(name);
  }
  return usage;
}

// The rate card's decimal strings ("66.700") with thousands separators, never through a float sum.
function decimal(text) {
  const [whole, fraction] = String(text).split(".");
  const trimmed = fraction ? fraction.replace(/0+$/, "") : "";
  return `${credits(Number(whole))}${trimmed ? `.${trimmed}` : ""}`;
}

function lockText(expiresAt) {
  const left = Math.max(0, Math.floor((new Date(expiresAt).getTime() - Date.now()) / 1000));
  if (!left) return "The price lock has expired: calculate again.";
  const mm = Math.floor(left / 60);
  const ss = String(left % 60).padStart(2, "0");
  return `Price locked for ${mm}:${ss} more (until ${new Date(expiresAt).toISOString().slice(11, 16)} UTC).`;
}

export async function render(ctx, container) {
  const [balance, catalog] = await Promise.all([ctx.api.get(`${ctx.orgPath}/balance`), plans(ctx)]);
  const summary = h("div", { class: "calc-balance" }, balanceSummary(balance));
  const result = h("div", { class: "quote-result", "aria-live": "polite" });
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": "ooc-title", "aria-describedby": "ooc-desc" });
  let timer = null;

  async function refreshBalance() {
    const fresh = await ctx.api.get(`${ctx.orgPath}/balance`);
    clear(summary, balanceSummary(fresh));
    return fresh;
  }

  const gpuClass = h("select", { name: "gpu_class" }, GPU_CLASSES.map((c) => h("option", { value: c, selected: c === "a100" }, c.toUpperCase())));
  const jobName = h("input", { type: "text", name: "job_id", maxlength: 100, pattern: "[A-Za-z0-9][A-Za-z0-9_.:#\\-]*", placeholder: "e.g. trailer-render-3", autocomplete: "off" });
  const calcButton = h("button", { type: "submit", class: "primary" }, "Calculate");
  const form = h(
    "form",
    { class: "calc-form", novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, "Generated shots"),
      h("div", { class: "grid-3" }, TIERS.map(([tier, price]) => field(`${tier} shots`, numberInput(tier), `${price} credits a shot`))),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Compute and services"),
      h(
        "div",
        { class: "grid-3" },
        field("GPU class", gpuClass),
        field("GPU seconds", numberInput("gpu_seconds", { step: "any" })),
        field("CPU seconds", numberInput("cpu_seconds", { step: "any" })),
        field("Text-to-speech characters", numberInput("tts_characters")),
        field("Upscaled output seconds", numberInput("upscale_output_seconds", { step: "any" })),
        field("Motion-capture minutes", numberInput("mocap_capture_minutes", { step: "any" })),
      ),
    ),
    field("Job name (optional)", jobName, "Shown in the ledger. Letters, digits and - _ . : #"),
    h("div", { class: "actions" }, calcButton),
  );

  function closeDialog() {
    if (dialog.open) dialog.close();
  }

  function showOutOfCredit(options, message) {
    const upgrade = options.upgrade;
    const pack = options.pack;
    const plan = upgrade ? catalog.plans.find((p) => p.id === upgrade.plan_id) : null;
    const status = h("p", { class: "dialog-status", role: "status" });
    const buttons = [];
    if (upgrade) {
      const contract = upgrade.price_cents === null || upgrade.price_cents === undefined;
      buttons.push(
        h(
          "li",
          { class: "option" },
          h("h3", {}, `Upgrade to ${upgrade.name}`),
          h("p", {}, contract ? "Pooled credits by contract, with SSO, invoicing and an SLA." : `${money(upgrade.price_cents, upgrade.currency)} a month · ${credits(upgrade.monthly_credits)} credits a month${plan ? ` · ${plan.storage_gb} GB storage` : ""}. Takes effect at once.`),
          contract
            ? h("a", { class: "button", href: "mailto:sales@act3.ai?subject=Enterprise%20plan" }, "Contact sales")
            : h(
                "button",
                {
                  type: "button",
                  class: "primary",
                  disabled: !ctx.can.changePlan,
                  onclick: (e) =>
                    busy(e.currentTarget, async () => {
                      try {
                        await changePlan(ctx, upgrade.plan_id);
                        status.textContent = `Upgraded to ${upgrade.name}.`;
                        await refreshBalance();
                      } catch (error) {
                        status.textContent = error.message;
                      }
                    }),
                },
                `Upgrade to ${upgrade.name}`,
              ),
          !ctx.can.changePlan && !contract ? h("p", { class: "hint" }, "Only an owner can change the plan.") : null,
        ),
      );
    }
    if (pack) {
      buttons.push(
        h(
          "li",
          { class: "option" },
          h("h3", {}, "Buy a one-time pack"),
          h("p", {}, `${credits(pack.credits)} credits for ${money(pack.price_cents, pack.currency)} (plan rate + 15 %). Pack credits never expire.`),
          h(
            "button",
            {
              type: "button",
              class: "primary",
              "data-testid": "buy-pack",
              disabled: !ctx.can.buyPacks,
              onclick: (e) =>
                busy(e.currentTarget, async () => {
                  try {
                    const outcome = await buyPack(ctx, pack.credits, {
                      onPending: () => {
                        status.textContent = "Payment sent. Waiting for Stripe to confirm…";
                      },
                    });
                    if (outcome.redirected) return;
                    status.textContent = outcome.added
                      ? `${credits(pack.credits)} credits added. Calculate again to run the job.`
                      : "The payment is still pending; the credits appear when Stripe confirms it.";
                    await refreshBalance();
                  } catch (error) {
                    status.textContent = error.message;
                  }
                }),
            },
            `Buy ${credits(pack.credits)} credits`,
          ),
          !ctx.can.buyPacks ? h("p", { class: "hint" }, "Only an owner or a billing member can buy packs.") : null,
        ),
      );
    }
    clear(
      dialog,
      h("h2", { id: "ooc-title" }, "Not enough credits"),
      h("p", { id: "ooc-desc" }, message || `This job needs ${credits(options.shortfall)} more credits than you have.`),
      h("ul", { class: "options" }, buttons),
      status,
      h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: closeDialog }, "Cancel and go back")),
    );
    dialog.showModal();
  }

  function showQuote(quote) {
    clearInterval(timer);
    const lock = h("p", { class: "lock", "data-testid": "price-lock" }, lockText(quote.expires_at));
    timer = setInterval(() => {
      if (!container.isConnected) return clearInterval(timer);
      lock.textContent = lockText(quote.expires_at);
    }, 1000);
    const mode = h("fieldset", { class: "run-mode" }, h("legend", {}, "How to run"),
      h("label", {}, h("input", { type: "radio", name: "mode", value: "debit", checked: true }), " Charge now (a finished or short job)"),
      h("label", {}, h("input", { type: "radio", name: "mode", value: "hold" }), " Reserve as a hold (a long GPU job; unused credits come back)"),
    );
    const runButton = h("button", { type: "button", class: "primary", "data-testid": "run" }, "Run");
    const runStatus = h("div", { role: "status" });
    const jobId = form.elements.job_id.value || `job-${quote.quote_id.slice(3, 15).toLowerCase()}`;
    runButton.addEventListener("click", () =>
      busy(runButton, async () => {
        const hold = mode.querySelector("input:checked").value === "hold";
        try {
          const answer = await ctx.api.post(
            `${ctx.orgPath}/${hold ? "holds" : "debits"}`,
            { job_id: jobId, quote_id: quote.quote_id },
            { idempotencyKey: `${hold ? "hold" : "run"}-${quote.quote_id}` },
          );
          clearInterval(timer);
          const fresh = await refreshBalance();
          clear(
            result,
            h(
              "div",
              { class: "alert alert-ok", role: "status" },
              hold
                ? `Held ${credits(answer.credits ?? quote.credits)} credits for “${jobId}”. Spendable now: ${credits(fresh.spendable)}.`
                : `Charged ${credits(answer.credits ?? quote.credits)} credits for “${jobId}”. Spendable now: ${credits(fresh.spendable)}.`,
            ),
          );
          ctx.toast(hold ? "Credits held for the job." : "Job charged.");
        } catch (error) {
          if (error.code === "insufficient_credits" && error.problem.options) {
            showOutOfCredit(error.problem.options, error.message);
          } else {
            clear(runStatus, errorBox(error));
          }
        }
      }),
    );
    const before = quote.balance_before;
    clear(
      result,
      section(
        "Quote",
        h("p", { class: "quote-total" }, h("strong", { "data-testid": "quote-credits" }, credits(quote.credits)), " credits"),
        h(
          "div",
          { class: "table-wrap", role: "region", "aria-label": "Price breakdown", tabindex: 0 },
          h(
            "table",
            {},
            h("caption", { class: "visually-hidden" }, "Price breakdown"),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Item"), h("th", { scope: "col", class: "num" }, "Quantity"), h("th", { scope: "col", class: "num" }, "Rate"), h("th", { scope: "col", class: "num" }, "Credits"))),
            h("tbody", {}, quote.breakdown.map((line) => h("tr", {}, h("td", {}, line.item.replace("shots:", "Shots ").replace("gpu:", "GPU ")), h("td", { class: "num" }, `${line.quantity} ${line.unit}${line.quantity === "1" ? "" : "s"}`), h("td", { class: "num" }, line.rate), h("td", { class: "num" }, decimal(line.credits))))),
            h("tfoot", {}, h("tr", {}, h("th", { scope: "row", colspan: 3 }, "Total (rounded up once)"), h("td", { class: "num" }, credits(quote.credits)))),
          ),
        ),
        h(
          "dl",
          { class: "before-after" },
          h("div", {}, h("dt", {}, "Balance before"), h("dd", {}, credits(before))),
          h("div", {}, h("dt", {}, "After this job"), h("dd", { "data-testid": "balance-after" }, quote.affordable ? credits(quote.balance_after) : "not enough")),
          quote.affordable ? h("div", {}, h("dt", {}, "Share of balance"), h("dd", {}, quote.credits && !percent(quote.credits, before) ? "under 1%" : `${percent(quote.credits, before)}%`)) : null,
        ),
        lock,
        h("p", { class: "muted" }, `Rate card ${quote.rate_card_version}`),
        quote.affordable
          ? [mode, h("div", { class: "actions" }, runButton, h("button", { type: "button", class: "secondary", onclick: () => { clearInterval(timer); clear(result); calcButton.focus(); } }, "Cancel")), runStatus]
          : h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: () => showOutOfCredit(quote.options) }, "See options")),
      ),
    );
    if (!quote.affordable) showOutOfCredit(quote.options);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(calcButton, async () => {
      const usage = usageFrom(form);
      if (!Object.keys(usage).length) {
        clear(result, h("div", { class: "alert alert-error", role: "alert" }, "Enter at least one shot or amount to calculate."));
        return;
      }
      if (jobName.value && !jobName.checkValidity()) {
        clear(result, h("div", { class: "alert alert-error", role: "alert" }, "Job name: use letters, digits and - _ . : # only."));
        return;
      }
      try {
        const body = { usage };
        if (jobName.value) body.job_id = jobName.value;
        showQuote(await ctx.api.post(`${ctx.orgPath}/quotes`, body));
      } catch (error) {
        clear(result, errorBox(error));
      }
    });
  });

  const canRun = ctx.can.spend;
  if (!canRun) for (const el of form.elements) el.disabled = true;
  clear(
    container,
    h("div", { class: "page-head" }, h("h1", {}, "Calculate"), h("p", { class: "muted" }, "See what a job costs before you run it. Prices are locked for 15 minutes.")),
    !canRun
      ? readOnlyNote(ctx, ctx.can.spenderRole ? "spending the shared credits is turned off for you; an owner can turn it on in Members." : "your role can see prices in the plan but not run jobs.")
      : null,
    summary,
    section("Job", form),
    result,
    dialog,
  );
}
