// Accepting an invite: the e-mail's link (/invites/accept?token=…) lands here after sign-in.
import { clear, h } from "../dom.js";
import { ROLE_NAMES } from "../format.js";
import { busy, errorBox } from "../widgets.js";

export const INVITE_KEY = "act3.invite";

// Keep the token of an invite link across the sign-in, and clean it out of the address bar.
export function captureInviteLink() {
  const path = window.location.pathname;
  if (!path.endsWith("/invites/accept")) return;
  const token = new URLSearchParams(window.location.search).get("token");
  if (token) sessionStorage.setItem(INVITE_KEY, token);
  window.history.replaceState(null, "", "/#/accept");
}

export function pendingInvite() {
  return sessionStorage.getItem(INVITE_KEY);
}

export async function render(ctx, container) {
  const token = pendingInvite();
  if (!token) {
    clear(container, h("h1", {}, "Invite"), h("p", { class: "alert alert-muted" }, "There is no invite to accept. Open the link of your invite e-mail again."));
    return;
  }
  const status = h("div", { role: "status" });
  const accept = h("button", { type: "button", class: "primary" }, "Accept invite");
  const decline = h("button", { type: "button", class: "secondary" }, "Not now");
  accept.addEventListener("click", () =>
    busy(accept, async () => {
      try {
        const joined = await ctx.api.post("/invites/accept", { token });
        sessionStorage.removeItem(INVITE_KEY);
        localStorage.setItem("act3.org", joined.org_id);
        clear(status, h("p", { class: "alert alert-ok" }, `You joined as ${ROLE_NAMES[joined.role] || joined.role}.`));
        window.location.hash = "#/usage";
        window.location.reload();
      } catch (error) {
        clear(status, errorBox(error));
      }
    }),
  );
  decline.addEventListener("click", () => {
    sessionStorage.removeItem(INVITE_KEY);
    window.location.hash = "#/usage";
  });
  clear(
    container,
    h("div", { class: "page-head" }, h("h1", {}, "You are invited"), h("p", { class: "muted" }, `Join an organization on ACT 3 AI billing as ${ctx.me.email}.`)),
    h("section", { class: "card", "aria-label": "Invite" }, h("p", {}, "The invite is for the e-mail address it was sent to and can be used once, within 7 days."), h("div", { class: "actions" }, accept, decline), status),
  );
}
