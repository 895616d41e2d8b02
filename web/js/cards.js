// Adding a card: the API makes a SetupIntent for the org's Stripe customer, and Stripe.js confirms it
// with the card typed into Stripe's own field, so the card number never touches these pages or the API.
// Stripe.js comes from config.json (https://js.stripe.com/v3/ in AWS; localstripe's copy locally).
import { newKey } from "./api.js";
import { clear, h } from "./dom.js";
import { busy, errorBox } from "./widgets.js";

let loading = null;

function stripeJs(url) {
  if (window.Stripe) return Promise.resolve(window.Stripe);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = h("script", { src: url });
      script.addEventListener("load", () => resolve(window.Stripe));
      script.addEventListener("error", () => {
        loading = null;
        script.remove();
        reject(new Error("Stripe could not be reached, so no card can be added now. Try again later."));
      });
      document.head.append(script);
    });
  }
  return loading;
}

// Stripe's own field draws in an iframe with its own labels; an emulator's plain inputs get names here.
function labelInputs(mount) {
  const names = { number: "Card number", exp_month: "Expiry month (MM)", exp_year: "Expiry year (YY)", cvc: "Security code (CVC)", postal_code: "Postal code" };
  for (const input of mount.querySelectorAll("input:not([aria-label])")) {
    input.setAttribute("aria-label", names[input.getAttribute("placeholder")] || "Card details");
  }
}

function setupWords(error) {
  const message = (error && (error.message || error.code)) || "";
  if (/declin/i.test(message)) return "The card was declined. Nothing was saved; try another card.";
  if (/authenticat/i.test(message)) return "The bank did not confirm the card. Nothing was saved.";
  return "The card could not be saved. Check the details and try again.";
}

// "Add a card" for owners and billing members: returns null when this deployment has no Stripe.js.
export function addCard(ctx, { hasDefault, status }) {
  const settings = ctx.config.stripe;
  if (!settings || !settings.js_url || !settings.publishable_key) return null;
  const holder = h("div", { class: "card-form" });
  const open = h("button", { type: "button", class: "secondary", "aria-expanded": "false" }, "Add a card");
  open.addEventListener("click", () =>
    busy(open, async () => {
      clear(status);
      let Stripe;
      try {
        Stripe = await stripeJs(settings.js_url);
      } catch (error) {
        clear(status, errorBox(error));
        return;
      }
      const stripe = Stripe(settings.publishable_key);
      const mount = h("div", { class: "card-field", role: "group", "aria-label": "Card details" });
      const save = h("button", { type: "submit", class: "primary" }, "Save card");
      const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
      const form = h("form", { class: "add-card", "aria-label": "Add a card" }, mount, h("div", { class: "actions" }, save, cancel));
      clear(holder, form);
      open.hidden = true;
      open.setAttribute("aria-expanded", "true");
      const card = stripe.elements().create("card");
      card.mount(mount);
      labelInputs(mount);
      const close = () => {
        clear(holder);
        open.hidden = false;
        open.setAttribute("aria-expanded", "false");
        open.focus();
      };
      cancel.addEventListener("click", close);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        busy(save, async () => {
          clear(status);
          try {
            const intent = await ctx.api.post(`${ctx.orgPath}/payment-methods/setup-intent`, {}, { idempotencyKey: newKey("card") });
            const result = await stripe.confirmCardSetup(intent.client_secret, { payment_method: { card } });
            if (result.error) {
              clear(status, errorBox(new Error(setupWords(result.error))));
              return;
            }
            const saved = result.setupIntent.payment_method;
            const id = typeof saved === "string" ? saved : saved.id;
            if (!hasDefault) {
              await ctx.api.post(`${ctx.orgPath}/payment-methods/${encodeURIComponent(id)}/default`, {}, { idempotencyKey: newKey("pm-default") });
            }
            ctx.toast(hasDefault ? "Card saved." : "Card saved. Packs are now paid with it.");
            await ctx.rerender();
          } catch (error) {
            clear(status, errorBox(error));
          }
        });
      });
    }),
  );
  return h("div", {}, open, holder);
}
