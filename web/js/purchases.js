// Money in: credit packs and plan changes (the Stripe work's routes). Each answers in words, and a
// route that is not deployed yet says so instead of failing.
import { newKey } from "./api.js";

const POLL_MS = 1000;
const POLL_TRIES = 20;

async function waitForCredits(ctx, before) {
  for (let i = 0; i < POLL_TRIES; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const balance = await ctx.api.get(`${ctx.orgPath}/balance`);
    if (balance.spendable > before) return balance;
  }
  return null;
}

// Buy a pack: the API returns a Checkout URL (we go there) or a payment it confirms itself (we wait
// for the webhook to add the lot, showing the pending purchase meanwhile).
export async function buyPack(ctx, creditsWanted, { onPending } = {}) {
  const before = (await ctx.api.get(`${ctx.orgPath}/balance`)).spendable;
  const purchase = await ctx.api.post(
    `${ctx.orgPath}/credit-packs`,
    { credits: creditsWanted },
    { idempotencyKey: newKey("pack") },
  );
  const checkout = purchase.checkout_url || purchase.url;
  if (checkout) {
    window.location.assign(checkout);
    return { redirected: true, purchase };
  }
  if (onPending) onPending(purchase);
  const balance = await waitForCredits(ctx, before);
  return { purchase, balance, added: Boolean(balance) };
}

// Upgrade now / downgrade at cycle end / archive: one call, the API decides when it takes effect.
export async function changePlan(ctx, planId) {
  const result = await ctx.api.post(
    `${ctx.orgPath}/subscription`,
    { plan_id: planId },
    { idempotencyKey: newKey("plan") },
  );
  if (result && (result.checkout_url || result.url)) {
    window.location.assign(result.checkout_url || result.url);
  }
  return result;
}
