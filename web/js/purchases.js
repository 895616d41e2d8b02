// Money in: credit packs and plan changes (the Stripe work's routes). Each answers in words, and a
// route that is not deployed yet says so instead of failing.
import { newKey } from "./api.js";

const POLL_MS = 1000;
const POLL_TRIES = 20;
const NO_SUBSCRIPTION = new Set(["none", "canceled", "incomplete_expired", "checkout_open"]);

async function waitForCredits(ctx, before) {
  for (let i = 0; i < POLL_TRIES; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const balance = await ctx.api.get(`${ctx.orgPath}/balance`);
    if (balance.spendable > before) return balance;
  }
  return null;
}

async function defaultPaymentMethod(ctx) {
  try {
    const answer = await ctx.api.get(`${ctx.orgPath}/payment-methods`);
    const methods = Array.isArray(answer) ? answer : answer.payment_methods || answer.data || [];
    const chosen = methods.find((m) => m.default) || null;
    return chosen ? chosen.payment_method_id || chosen.id : null;
  } catch {
    return null; // no saved card (or no route yet): pay through Stripe Checkout
  }
}

function leaveFor(answer) {
  const url = answer && (answer.checkout_url || answer.url);
  if (url) window.location.assign(url);
  return Boolean(url);
}

// Buy a pack: with the card on file when there is one (Stripe confirms at once, the webhook adds the
// lot), else on Stripe Checkout. Returns once the credits are in, or when they are still pending.
export async function buyPack(ctx, creditsWanted, { onPending } = {}) {
  const before = (await ctx.api.get(`${ctx.orgPath}/balance`)).spendable;
  const paymentMethod = await defaultPaymentMethod(ctx);
  const body = paymentMethod ? { credits: creditsWanted, payment_method: paymentMethod } : { credits: creditsWanted, checkout: true };
  const purchase = await ctx.api.post(`${ctx.orgPath}/credit-packs`, body, { idempotencyKey: newKey("pack") });
  if (leaveFor(purchase)) return { redirected: true, purchase };
  if (onPending) onPending(purchase);
  const balance = await waitForCredits(ctx, before);
  return { purchase, balance, added: Boolean(balance) };
}

async function subscription(ctx) {
  try {
    return await ctx.api.get(`${ctx.orgPath}/subscription`);
  } catch (error) {
    if (error.unavailable) throw error;
    return null;
  }
}

// Upgrade now / downgrade at cycle end (a subscription's plan), subscribe (Checkout), or archive.
export async function changePlan(ctx, planId) {
  const current = await subscription(ctx);
  const idempotencyKey = newKey("plan");
  let answer;
  if (planId === "archive") {
    answer = await ctx.api.post(`${ctx.orgPath}/subscription/cancel`, {}, { idempotencyKey });
  } else if (!current || NO_SUBSCRIPTION.has(current.status)) {
    answer = await ctx.api.post(`${ctx.orgPath}/subscription`, { plan_id: planId }, { idempotencyKey });
  } else {
    answer = await ctx.api.post(`${ctx.orgPath}/subscription/plan`, { plan_id: planId }, { idempotencyKey });
  }
  leaveFor(answer);
  return answer;
}
