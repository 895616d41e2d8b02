// Members: roles, shared-credit toggles (per role and per member), monthly limits, invites.
import { newKey } from "../api.js";
import { clear, field, h, section, tableWrap } from "../dom.js";
import { ROLE_NAMES, credits, date } from "../format.js";
import { busy, errorBox, readOnlyNote } from "../widgets.js";

const ROLES = ["owner", "billing", "creator", "viewer"];

function roleSelect(value, label) {
  return h("select", { "aria-label": label }, ROLES.map((r) => h("option", { value: r, selected: r === value }, ROLE_NAMES[r])));
}

export async function render(ctx, container) {
  const manage = ctx.can.manageMembers;
  const [{ members }, settings, invites] = await Promise.all([
    ctx.api.get(`${ctx.orgPath}/members`),
    ctx.api.get(`${ctx.orgPath}/settings`),
    manage ? ctx.api.get(`${ctx.orgPath}/invites`) : Promise.resolve({ invites: [] }),
  ]);
  const status = h("div", { class: "form-status", role: "status", "aria-live": "polite" });

  async function save(action, words) {
    clear(status);
    try {
      await action();
      ctx.toast(words);
      await ctx.rerender();
    } catch (error) {
      clear(status, errorBox(error));
    }
  }

  function memberRow(m) {
    const who = m.email || m.user_id;
    const me = m.user_id === ctx.me.user_id;
    if (!manage) {
      return h("tr", {}, h("th", { scope: "row" }, who, me ? " (you)" : ""), h("td", {}, ROLE_NAMES[m.role]), h("td", {}, m.may_spend ? "Yes" : "No"), h("td", { class: "num" }, m.monthly_limit === null ? "No limit" : credits(m.monthly_limit)), h("td", { class: "num" }, credits(m.spent_this_cycle)));
    }
    const role = roleSelect(m.role, `Role of ${who}`);
    role.addEventListener("change", () => save(() => ctx.api.patch(`${ctx.orgPath}/members/${encodeURIComponent(m.user_id)}`, { role: role.value }), `${who} is now ${ROLE_NAMES[role.value]}.`));
    const override = h(
      "select",
      { "aria-label": `Shared credits for ${who}` },
      h("option", { value: "", selected: m.may_spend_override === null }, `Role default (${settings.shared_credits[m.role] ? "on" : "off"})`),
      h("option", { value: "true", selected: m.may_spend_override === true }, "Always on"),
      h("option", { value: "false", selected: m.may_spend_override === false }, "Always off"),
    );
    override.addEventListener("change", () =>
      save(() => ctx.api.patch(`${ctx.orgPath}/members/${encodeURIComponent(m.user_id)}`, { may_spend_override: override.value === "" ? null : override.value === "true" }), `Shared credits updated for ${who}.`),
    );
    const limit = h("input", { type: "number", min: 0, step: 1, inputmode: "numeric", value: m.monthly_limit ?? "", placeholder: "No limit", "aria-label": `Monthly limit for ${who} (credits)`, class: "limit" });
    const saveLimit = h("button", { type: "button", class: "secondary small" }, "Save");
    saveLimit.setAttribute("aria-label", `Save monthly limit for ${who}`);
    saveLimit.addEventListener("click", () =>
      busy(saveLimit, () => save(() => ctx.api.patch(`${ctx.orgPath}/members/${encodeURIComponent(m.user_id)}`, { monthly_limit: limit.value === "" ? null : Number(limit.value) }), `Monthly limit saved for ${who}.`)),
    );
    const remove = h("button", { type: "button", class: "danger small", "aria-label": `Remove ${who}` }, "Remove");
    remove.addEventListener("click", () => {
      if (!window.confirm(`Remove ${who} from ${ctx.org.name}?`)) return;
      busy(remove, () => save(() => ctx.api.del(`${ctx.orgPath}/members/${encodeURIComponent(m.user_id)}`), `${who} was removed.`));
    });
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, who, me ? " (you)" : ""),
      h("td", {}, role),
      h("td", {}, override, h("span", { class: "muted small-text block" }, m.may_spend ? "can spend now" : "can't spend now")),
      h("td", { class: "num" }, h("div", { class: "inline" }, limit, saveLimit)),
      h("td", { class: "num" }, credits(m.spent_this_cycle)),
      h("td", {}, remove),
    );
  }

  const membersTable = h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": "Members", tabindex: 0 },
    h(
      "table",
      { class: "members" },
      h("caption", { class: "visually-hidden" }, "Members"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Member"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Shared credits"), h("th", { scope: "col", class: "num" }, "Monthly limit"), h("th", { scope: "col", class: "num" }, "Spent this cycle"), manage ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")) : null)),
      h("tbody", {}, members.map(memberRow)),
    ),
  );

  const toggles = h(
    "fieldset",
    { class: "toggles" },
    h("legend", {}, "Who may spend the shared credits, by role"),
    ROLES.map((r) => {
      const box = h("input", { type: "checkbox", name: r, checked: settings.shared_credits[r], disabled: !manage });
      if (manage) {
        box.addEventListener("change", () => save(() => ctx.api.patch(`${ctx.orgPath}/settings`, { shared_credits: { [r]: box.checked } }), `Shared credits for ${ROLE_NAMES[r]} ${box.checked ? "on" : "off"}.`));
      }
      return h("label", { class: "toggle" }, box, ` ${ROLE_NAMES[r]}`);
    }),
  );

  let invitesPart = null;
  if (manage) {
    const email = h("input", { type: "email", name: "email", required: true, autocomplete: "off" });
    const role = roleSelect("creator", "Role");
    role.removeAttribute("aria-label");
    const inviteButton = h("button", { type: "submit", class: "primary" }, "Send invite");
    const form = h("form", { class: "invite-form", novalidate: true }, h("div", { class: "grid-3" }, field("E-mail", email), field("Role", role)), h("div", { class: "actions" }, inviteButton));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!email.value || !email.checkValidity()) {
        clear(status, errorBox(new Error("E-mail: enter an address like ann@studio.example.")));
        email.focus();
        return;
      }
      busy(inviteButton, () => save(() => ctx.api.post(`${ctx.orgPath}/invites`, { email: email.value, role: role.value }, { idempotencyKey: newKey("invite") }), `Invite sent to ${email.value}.`));
    });
    const rows = invites.invites.map((inv) => {
      const pending = inv.status === "pending";
      const revoke = h("button", { type: "button", class: "secondary small", "aria-label": `Revoke the invite to ${inv.email}` }, "Revoke");
      revoke.addEventListener("click", () => busy(revoke, () => save(() => ctx.api.post(`${ctx.orgPath}/invites/${inv.invite_id}/revoke`, {}, { idempotencyKey: newKey("revoke") }), `Invite to ${inv.email} revoked.`)));
      const resend = h("button", { type: "button", class: "secondary small", "aria-label": `Resend the invite to ${inv.email}` }, "Resend");
      resend.addEventListener("click", () => busy(resend, () => save(() => ctx.api.post(`${ctx.orgPath}/invites/${inv.invite_id}/resend`, {}, { idempotencyKey: newKey("resend") }), `Invite to ${inv.email} sent again.`)));
      return h("tr", {}, h("th", { scope: "row" }, inv.email), h("td", {}, ROLE_NAMES[inv.role]), h("td", {}, inv.status), h("td", {}, date(inv.expires_at)), h("td", {}, pending ? h("div", { class: "inline" }, resend, revoke) : null));
    });
    invitesPart = section(
      "Invites",
      form,
      rows.length
        ? tableWrap("Invites", h("table", { class: "invites" }, h("caption", { class: "visually-hidden" }, "Invites"), h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "E-mail"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Expires"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))), h("tbody", {}, rows)))
        : h("p", { class: "muted" }, "No invites yet."),
    );
  }

  clear(
    container,
    h("div", { class: "page-head" }, h("h1", {}, "Members"), h("p", { class: "muted" }, `${members.length} members of ${ctx.org.name}`)),
    manage ? null : readOnlyNote(ctx, "only owners change members, roles, limits and invites."),
    status,
    section("People", membersTable),
    section("Shared credits", toggles, h("p", { class: "hint" }, "A member's own setting overrides their role's.")),
    invitesPart,
  );
}
