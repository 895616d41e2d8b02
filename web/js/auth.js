// Sign-in: the local stack's issuer (a form), or in AWS Cognito's hosted UI (authorization code + PKCE).
const TOKEN_KEY = "act3.token";
const PKCE_KEY = "act3.pkce";

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch {
    return null;
  }
}

export function currentToken() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  const claims = claimsOf(token);
  if (!claims || (claims.exp && claims.exp * 1000 < Date.now() + 30000)) {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
  return token;
}

export function currentClaims() {
  const token = currentToken();
  return token ? claimsOf(token) : null;
}

export function signOut(config) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (config.auth.kind === "cognito") {
    const url = new URL(`${config.auth.domain}/logout`);
    url.searchParams.set("client_id", config.auth.client_id);
    url.searchParams.set("logout_uri", config.auth.logout_uri || config.auth.redirect_uri);
    window.location.assign(url.toString());
    return;
  }
  window.location.hash = "#/sign-in";
  window.location.reload();
}

export async function signInLocal(config, { email, name, idp }) {
  const response = await fetch(config.api_base + config.auth.sign_in_url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, name: name || null, idp: idp || null }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || "Sign-in failed. Try again.");
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export async function signInHosted(config, idp) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const url = new URL(`${config.auth.domain}/oauth2/authorize`);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", config.auth.client_id);
  url.searchParams.set("redirect_uri", config.auth.redirect_uri);
  url.searchParams.set("scope", "openid email profile");
  url.searchParams.set("code_challenge", challenge);
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("state", state);
  if (idp) url.searchParams.set("identity_provider", idp);
  window.location.assign(url.toString());
}

// Back from the hosted UI with ?code=…&state=…: trade the code for tokens, then clean the address bar.
export async function completeHostedSignIn(config) {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  if (!code || config.auth.kind !== "cognito") return false;
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "{}");
  sessionStorage.removeItem(PKCE_KEY);
  if (!saved.state || saved.state !== params.get("state")) throw new Error("The sign-in could not be verified. Try again.");
  const response = await fetch(`${config.auth.domain}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.auth.client_id,
      code,
      redirect_uri: config.auth.redirect_uri,
      code_verifier: saved.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  // The access token is what the API's JWT authorizer checks (route scopes); the pool's pre token
  // generation trigger puts the e-mail claims on it.
  if (!response.ok || !body.access_token) throw new Error("Sign-in failed. Try again.");
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  window.history.replaceState(null, "", sessionStorage.getItem("act3.invite") ? "/#/accept" : "/#/usage");
  return true;
}
