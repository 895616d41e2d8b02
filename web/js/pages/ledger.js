// Ledger: every credit movement, newest first, with filters, paging and a CSV export.
import { clear, field, h, section } from "../dom.js";
import { ENTRY_TYPES, credits, dateTime } from "../format.js";
import { busy, errorBox } from "../widgets.js";

const OUT = new Set(["debit", "expire", "forfeit", "transfer_out", "hold", "clawback", "debt_repaid"]);
const IN = new Set(["grant_monthly", "grant", "pack_purchase", "transfer_in", "refund", "release"]);
const CSV_PAGE = 500;
const CSV_MAX_PAGES = 40;

function signed(entry) {
  if (OUT.has(entry.type)) return `−${credits(entry.amount)}`;
  if (IN.has(entry.type)) return `+${credits(entry.amount)}`;
  return credits(entry.amount);
}

function lotsText(entry) {
  const sources = entry.sources && Object.keys(entry.sources).length ? entry.sources : entry.lots || {};
  return Object.entries(sources)
    .map(([lot, n]) => `${lot.split("#")[0]} ${credits(Math.abs(n))}`)
    .join(", ");
}

export async function render(ctx, container) {
  const { members } = await ctx.api.get(`${ctx.orgPath}/members`);
  const emails = Object.fromEntries(members.map((m) => [m.user_id, m.email || m.user_id]));
  const cursors = [null];
  let page = 0;

  const type = h("select", { name: "type" }, h("option", { value: "" }, "All types"), Object.entries(ENTRY_TYPES).map(([v, label]) => h("option", { value: v }, label)));
  const member = h("select", { name: "member" }, h("option", { value: "" }, "Everyone"), members.map((m) => h("option", { value: m.user_id }, m.email || m.user_id)));
  const job = h("input", { type: "search", name: "job", maxlength: 128, autocomplete: "off" });
  const size = h("select", { name: "limit" }, [10, 25, 50, 100].map((n) => h("option", { value: n, selected: n === 25 }, String(n))));
  const apply = h("button", { type: "submit", class: "primary" }, "Apply filters");
  const exportButton = h("button", { type: "button", class: "secondary", "data-testid": "export-csv" }, "Export CSV");
  const table = h("div", { class: "ledger-table", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "secondary" }, "Previous page");
  const next = h("button", { type: "button", class: "secondary" }, "Next page");
  const pageInfo = h("span", { class: "muted" });
  const status = h("div", { role: "status" });

  function query(limit, cursor) {
    const params = new URLSearchParams({ limit: String(limit) });
    if (cursor) params.set("cursor", cursor);
    if (type.value) params.set("type", type.value);
    if (member.value) params.set("member", member.value);
    if (job.value.trim()) params.set("job", job.value.trim());
    return `${ctx.orgPath}/ledger?${params}`;
  }

  async function load() {
    table.setAttribute("aria-busy", "true");
    try {
      await show();
    } finally {
      table.removeAttribute("aria-busy");
    }
  }

  async function show() {
    clear(status);
    let data;
    try {
      data = await ctx.api.get(query(size.value, cursors[page]));
    } catch (error) {
      clear(table, errorBox(error));
      return;
    }
    cursors[page + 1] = data.next_cursor || undefined;
    prev.disabled = page === 0;
    next.disabled = !data.next_cursor;
    pageInfo.textContent = `Page ${page + 1}`;
    if (!data.entries.length) {
      clear(table, h("p", { class: "muted" }, "No entries match these filters."));
      return;
    }
    clear(
      table,
      h(
        "div",
        { class: "table-wrap", role: "region", "aria-label": "Ledger entries", tabindex: 0 },
        h(
          "table",
          { class: "ledger" },
          h("caption", { class: "visually-hidden" }, `Ledger entries, page ${page + 1}`),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "What"), h("th", { scope: "col", class: "num" }, "Credits"), h("th", { scope: "col" }, "Job"), h("th", { scope: "col" }, "By"), h("th", { scope: "col" }, "Lots"))),
          h(
            "tbody",
            {},
            data.entries.map((e) =>
              h("tr", {}, h("td", {}, dateTime(e.created_at)), h("td", {}, ENTRY_TYPES[e.type] || e.type), h("td", { class: `num ${OUT.has(e.type) ? "out" : IN.has(e.type) ? "in" : ""}` }, signed(e)), h("td", {}, e.job_id || "—"), h("td", {}, e.actor ? emails[e.actor] || "system" : "system"), h("td", { class: "small-text" }, lotsText(e))),
            ),
          ),
        ),
      ),
    );
  }

  async function exportCsv() {
    const parts = [];
    let cursor = null;
    let truncated = false;
    for (let i = 0; i < CSV_MAX_PAGES; i += 1) {
      const { text, headers } = await ctx.api.get(query(CSV_PAGE, cursor), { accept: "text/csv" });
      parts.push(i === 0 ? text : text.slice(text.indexOf("\n") + 1));
      cursor = headers.get("x-next-cursor");
      if (!cursor) break;
      if (i === CSV_MAX_PAGES - 1) truncated = true;
    }
    const blob = new Blob([parts.join("")], { type: "text/csv" });
    const link = h("a", { href: URL.createObjectURL(blob), download: `ledger-${ctx.org.org_id}-${new Date().toISOString().slice(0, 10)}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    ctx.toast(truncated ? `Exported the first ${CSV_PAGE * CSV_MAX_PAGES} entries; narrow the filters for the rest.` : "Ledger exported as CSV.");
  }

  const form = h(
    "form",
    { class: "filters" },
    h("div", { class: "grid-4" }, field("Type", type), field("Member", member), field("Job", job), field("Per page", size)),
    h("div", { class: "actions" }, apply, exportButton),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    cursors.length = 1;
    page = 0;
    busy(apply, load);
  });
  exportButton.addEventListener("click", () =>
    busy(exportButton, async () => {
      try {
        await exportCsv();
      } catch (error) {
        clear(status, errorBox(error));
      }
    }),
  );
  prev.addEventListener("click", () => {
    page = Math.max(0, page - 1);
    busy(prev, load);
  });
  next.addEventListener("click", () => {
    page += 1;
    busy(next, load);
  });

  clear(
    container,
    h("div", { class: "page-head" }, h("h1", {}, "Ledger"), h("p", { class: "muted" }, "Every change of a balance, as recorded. Nothing here is ever edited.")),
    section("Filters", form, status),
    section("Entries", table, h("nav", { class: "pager", "aria-label": "Ledger pages" }, prev, pageInfo, next)),
  );
  await load();
}
