// Shared pieces of the pages: drawn meters, "not available yet", plan look-ups, busy buttons.
import { h, svg } from "./dom.js";
import { credits, percent } from "./format.js";

// A horizontal meter drawn in SVG; the words carry the same numbers for screen readers.
export function barMeter({ label, value, max, detail, tone = "used", format = credits }) {
  const pct = percent(value, max);
  const words = `${label}: ${format(value)} of ${format(max)} (${pct}%)`;
  return h(
    "figure",
    { class: "meter" },
    h(
      "figcaption",
      {},
      h("span", { class: "meter-label" }, label),
      h("span", { class: "meter-value" }, `${format(value)} / ${format(max)}`),
    ),
    svg(
      "svg",
      { class: "bar", viewBox: "0 0 100 8", preserveAspectRatio: "none", role: "img", "aria-label": words },
      svg("rect", { class: "bar-track", x: 0, y: 0, width: 100, height: 8 }),
      svg("rect", { class: `bar-fill tone-${tone}${pct >= 90 ? " tone-high" : ""}`, x: 0, y: 0, width: pct, height: 8 }),
    ),
    detail ? h("p", { class: "meter-detail" }, detail) : null,
  );
}

// The balance as one stacked bar: where the spendable credits sit, and what is held.
export function stackedBar(segments, label) {
  const total = segments.reduce((sum, s) => sum + Math.max(0, s.value), 0);
  let x = 0;
  const rects = [];
  for (const s of segments) {
    const width = total ? (Math.max(0, s.value) / total) * 100 : 0;
    if (width > 0) rects.push(svg("rect", { class: `seg seg-${s.key}`, x, y: 0, width, height: 10 }));
    x += width;
  }
  const words = segments.map((s) => `${s.label} ${credits(s.value)}`).join(", ");
  return h(
    "figure",
    { class: "stacked" },
    svg(
      "svg",
      { class: "bar", viewBox: "0 0 100 10", preserveAspectRatio: "none", role: "img", "aria-label": `${label}: ${words}` },
      svg("rect", { class: "bar-track", x: 0, y: 0, width: 100, height: 10 }),
      ...rects,
    ),
    h(
      "ul",
      { class: "legend" },
      segments.map((s) =>
        h("li", {}, h("span", { class: `swatch seg-${s.key}`, "aria-hidden": "true" }), `${s.label} `, h("strong", {}, credits(s.value))),
      ),
    ),
  );
}

export function unavailable(what) {
  return h(
    "div",
    { class: "alert alert-muted unavailable", role: "note" },
    h("strong", {}, "Not available yet. "),
    `${what} will appear here once this part of billing is switched on.`,
  );
}

export function errorBox(error) {
  return h("div", { class: "alert alert-error", role: "alert" }, error.message || String(error));
}

// Run an optional request: its data, or null when the route is not deployed yet.
export async function optional(promise) {
  try {
    return { data: await promise };
  } catch (error) {
    if (error.unavailable) return { unavailable: true };
    return { error };
  }
}

export async function plans(ctx) {
  if (!ctx.cache.plans) ctx.cache.plans = await ctx.api.get("/plans");
  return ctx.cache.plans;
}

export function planName(catalog, planId) {
  const plan = catalog.plans.find((p) => p.id === planId);
  return plan ? plan.name : planId;
}

// Disable a button while its action runs (no double submits), then put it back.
export async function busy(button, action) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = `${label}…`;
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

export function readOnlyNote(ctx, what) {
  return h(
    "p",
    { class: "alert alert-muted", role: "note" },
    `You are signed in as a ${ctx.can.role} of ${ctx.org.name}: ${what}`,
  );
}
