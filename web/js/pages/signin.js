// Sign in: a form on the local stack (its issuer mints the token), Cognito's hosted UI in AWS.
import { signInHosted, signInLocal } from "../auth.js";
import { clear, field, h } from "../dom.js";
import { pendingInvite } from "./accept.js";

export function render({ config }, main) {
  const hosted = config.auth.kind === "cognito";
  const error = h("div", { class: "alert alert-error", role: "alert", hidden: true });
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const name = h("input", { type: "text", name: "name", autocomplete: "name" });

  async function go(idp) {
    error.hidden = true;
    try {
      if (hosted) {
        await signInHosted(config, idp);
        return;
      }
      if (!email.value || !email.checkValidity()) {
        throw new Error("Enter your e-mail address, like ann@studio.example.");
      }
      await signInLocal(config, { email: email.value, name: name.value, idp });
      window.location.hash = pendingInvite() ? "#/accept" : "#/usage";
      window.location.reload();
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      email.focus();
    }
  }

  const form = h(
    "form",
    {
      class: "signin-form",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        go(null);
      },
    },
    error,
    hosted ? null : field("E-mail", email),
    hosted ? null : field("Name (optional)", name, "Shown to the other members of your organizations."),
    h("button", { type: "submit", class: "primary" }, hosted ? "Sign in" : "Sign in with e-mail"),
    h("p", { class: "or" }, "or"),
    h(
      "button",
      { type: "button", class: "linkedin", onclick: () => go(hosted ? "LinkedIn" : "linkedin") },
      "Sign in with LinkedIn",
    ),
    h("p", { class: "hint" }, "The free Starter trial needs a LinkedIn sign-in."),
  );
  clear(
    main,
    h(
      "div",
      { class: "signin" },
      h("h1", {}, "Sign in to billing"),
      hosted ? null : h("p", { class: "muted" }, "Local stack: any e-mail signs in with the local issuer."),
      pendingInvite() ? h("p", { class: "alert" }, "Sign in with the e-mail address your invite was sent to.") : null,
      form,
    ),
  );
  if (!hosted) email.focus();
}
