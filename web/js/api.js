// The billing API with the signed-in user's token; problems (RFC 9457) become errors in words.
import { credits } from "./format.js";

const FIELD_NAMES = {
  email: "E-mail",
  role: "Role",
  monthly_limit: "Monthly limit",
  credits: "Credits",
  job_id: "Job name",
  limit: "Page size",
  shots: "Shots",
  Q1: "Q1 shots",
  Q2: "Q2 shots",
  Q3: "Q3 shots",
  gpu_seconds: "GPU seconds",
  cpu_seconds: "CPU seconds",
  tts_characters: "Text-to-speech characters",
  upscale_output_seconds: "Upscaled seconds",
  mocap_capture_minutes: "Motion-capture minutes",
  tax_id: "Tax id",
  value: "Tax id",
};

// What each stable problem code means to the person in front of the page.
const WORDS = {
  unauthenticated: () => "Your session has ended. Sign in again.",
  email_not_verified: () => "Your e-mail address is not verified yet. Verify it, then sign in again.",
  forbidden_role: (p) =>
    `Your role${p.role ? ` (${p.role})` : ""} doesn't allow this. Ask an owner of the organization.`,
  shared_credits_disabled: () =>
    "Spending the organization's shared credits is turned off for you. An owner can turn it on in Members.",
  member_limit_exceeded: () => "This would go over your monthly spending limit. An owner can raise it in Members.",
  generation_disabled: () =>
    "Generation is turned off for this organization (archive plan or a trial that ended). Upgrade the plan to generate again.",
  trial_expired: () =>
    "The free trial has ended, so generation is off. Choose a paid plan in Plan & payment to run jobs again.",
  past_due: () =>
    "The last renewal payment failed, so generation is paused. Update the card or pay the open invoice in Plan & payment.",
  linkedin_sso_required: () => "Free-tier accounts need a LinkedIn sign-in. Sign out and sign in with LinkedIn.",
  invite_email_mismatch: () => "This invite was sent to another e-mail address.",
  insufficient_credits: (p) =>
    `Not enough credits: ${credits(p.required)} needed, ${credits(p.available)} available (${credits(p.shortfall)} short).`,
  not_found: () => "Not found — or you are not a member of this organization.",
  wallet_not_found: () => "This organization has no credits set up yet.",
  route_not_found: () => "This part of billing is not available yet.",
  quote_expired: () => "The 15-minute price lock has run out. Calculate again for a new price.",
  quote_used: () => "This quote has already been run.",
  hold_expired: () => "The hold has expired and its credits went back to the balance.",
  hold_not_open: () => "This hold is already settled.",
  capture_exceeds_hold: () => "That is more than the hold reserved.",
  already_member: () => "That person is already a member.",
  last_owner: () => "An organization must keep at least one owner.",
  invite_used: () => "This invite has already been used.",
  invite_expired: () => "This invite has expired. Ask for a new one.",
  invite_revoked: () => "This invite was revoked.",
  invite_not_found: () => "There is no such invite.",
  already_refunded: () => "This job has already been refunded.",
  nothing_to_refund: () => "There is nothing to refund for this job.",
  idempotency_key_reuse: () => "This action was already sent with different details. Reload the page and try again.",
  idempotency_key_required: () => "The request was missing its retry key. Reload the page and try again.",
  conflict: () => "Someone changed this at the same time. Reload and try again.",
  unavailable: () => "The billing service is busy. Nothing changed; try again in a moment.",
  media_purged: () => "This media was deleted when the organization's archive period ended. Text assets stay downloadable.",
  storage_quota_exceeded: () => "Storage is full for this plan. Upgrade or delete media to upload more.",
  same_org: () => "Choose another organization.",
  pack_unavailable: () => "Credit packs cannot be bought on this plan.",
  plan_not_purchasable: () => "This plan cannot be bought here. Contact sales for Enterprise.",
  no_subscription: () => "This organization has no paid subscription yet. Choose a plan first.",
  subscription_exists: () => "This organization already has a subscription; change its plan instead.",
  same_plan: () => "This organization is already on that plan.",
  payment_refused: () => "The payment was refused. Nothing was charged; try another card.",
  invalid_tax_id: () => "That tax id is not in the format of its country. Check it and try again.",
  payment_provider_unavailable: () => "The payment provider is not answering. Nothing was charged; try again soon.",
  invalid_signature: () => "The request's signature did not check out; nothing changed.",
  malformed_json: () => "The page sent something the service could not read. Reload and try again.",
  unsupported_media_type: () => "The page sent something the service could not read. Reload and try again.",
  too_many_lots: () =>
    "This organization holds as many separate credit lots as it can. Spend or transfer some credits, then try again.",
  forbidden_scope: () => "This service is not allowed to do that for the organization.",
};

function validationWords(problem) {
  const errors = Array.isArray(problem.errors) ? problem.errors : [];
  if (!errors.length) return problem.detail || "Check the form and try again.";
  return errors
    .slice(0, 3)
    .map((e) => {
      const loc = (e.loc || []).filter((part) => part !== "body" && part !== "query" && typeof part === "string");
      const name = FIELD_NAMES[loc[loc.length - 1]] || loc[loc.length - 1] || "A value";
      let msg = String(e.msg || "is not valid");
      if (/pattern/i.test(msg)) msg = "is not in the expected form";
      msg = msg.replace(/^Input should be /i, "should be ").replace(/^Value error, /i, "");
      return `${name}: ${msg}.`;
    })
    .join(" ");
}

export class ApiError extends Error {
  constructor(status, problem) {
    const code = problem.code || (status === 404 && problem.message === "Not Found" ? "route_not_found" : "");
    let words;
    if (code === "validation_error") words = validationWords(problem);
    else if (WORDS[code]) words = WORDS[code](problem);
    else if (status === 401) words = WORDS.unauthenticated();
    else if (status === 403) words = "You don't have access to this.";
    else if (status >= 500) words = "Something went wrong on our side. Nothing was charged; try again.";
    else words = problem.detail || problem.title || `The request failed (${status}).`;
    super(words);
    this.status = status;
    this.code = code;
    this.problem = problem;
  }

  // A route that is not deployed yet (API Gateway's 404, or the resolver's route_not_found).
  get unavailable() {
    return this.status === 404 && this.code === "route_not_found";
  }
}

export class NetworkError extends Error {
  constructor() {
    super("Can't reach the billing service. Check your connection and try again.");
    this.status = 0;
    this.code = "network";
  }
}

export function createApi({ base, token, onUnauthorized }) {
  async function request(method, path, { body, idempotencyKey, accept = "application/json" } = {}) {
    const headers = { accept, authorization: `Bearer ${token()}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    let response;
    try {
      response = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new NetworkError();
    }
    if (!response.ok) {
      let problem = {};
      try {
        problem = await response.json();
      } catch {
        problem = {};
      }
      const error = new ApiError(response.status, problem || {});
      if (response.status === 401 && onUnauthorized) onUnauthorized(error);
      throw error;
    }
    if (accept !== "application/json") return { text: await response.text(), headers: response.headers };
    return response.status === 204 ? null : response.json();
  }
  return {
    get: (path, options) => request("GET", path, options),
    post: (path, body, options = {}) => request("POST", path, { ...options, body }),
    patch: (path, body, options = {}) => request("PATCH", path, { ...options, body }),
    del: (path, options = {}) => request("DELETE", path, options),
  };
}

export function newKey(prefix) {
  const random = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  return `${prefix}-${random}`;
}
