"use strict";
// People sign in (OpenID Connect, authorization code with PKCE) against the provider the server names
// in /v1/reports/config. The tokens live in this page's memory only — never localStorage, never the URL:
// the code the provider sends back is exchanged at once and wiped from the address bar. Only the PKCE
// verifier waits in sessionStorage across the one redirect, and is removed on return. The access token
// is refreshed before it expires; signing out ends the session at the provider too.
const dondocAuth = (() => {
  const PENDING = "dondoc.signin";
  const auth = { config: null, discovery: null, tokens: null, claims: null, timer: null };

  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
  const redirectUri = () => location.origin + "/";

  function decodeClaims(jwt) {
    // For display only (name, agency, person): the services verify the token themselves.
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0)));
    return JSON.parse(text);
  }

  async function discover() {
    if (auth.discovery) return auth.discovery;
    const r = await fetch(`${auth.config.issuer}/.well-known/openid-configuration`);
    if (!r.ok) throw new Error("provider");
    auth.discovery = await r.json();
    return auth.discovery;
  }

  async function tokenRequest(form) {
    const d = await discover();
    const r = await fetch(d.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: auth.config.client_id, ...form }),
    });
    if (!r.ok) throw new Error("token");
    keep(await r.json());
  }

  function keep(tokens) {
    auth.tokens = tokens;
    auth.claims = decodeClaims(tokens.access_token);
    clearTimeout(auth.timer);
    // Refresh a little before the access token expires; a failed refresh signs the person out here.
    const inMs = Math.max(5, (tokens.expires_in || 300) - 30) * 1000;
    auth.timer = setTimeout(() => tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token })
      .catch(() => forget("Phiên đăng nhập đã hết hạn; hãy đăng nhập lại.")), inMs);
    changed();
  }

  function forget(message) {
    auth.tokens = null;
    auth.claims = null;
    clearTimeout(auth.timer);
    changed(message);
  }

  let listeners = [];
  function changed(message) {
    for (const fn of listeners) fn(message);
  }

  async function signIn() {
    let d;
    try {
      d = await discover();
    } catch {
      changed("Hệ thống đăng nhập đang không truy cập được; hãy thử lại sau ít phút.");
      return;
    }
    const verifier = random(48);
    const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    const state = random(16);
    sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }));
    const q = new URLSearchParams({
      client_id: auth.config.client_id, response_type: "code", scope: "openid", redirect_uri: redirectUri(),
      state, code_challenge: challenge, code_challenge_method: "S256", ui_locales: "vi",
    });
    location.assign(`${d.authorization_endpoint}?${q}`);
  }

  // The provider's answer: the code and state leave the address bar (and so the history) first; the
  // code counts only with the state this tab sent, and is exchanged with the verifier it kept.
  async function completeSignIn() {
    const q = new URLSearchParams(location.search);
    const code = q.get("code");
    const sent = q.get("state");
    const failed = q.get("error");
    const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
    if (!code && !failed) return null;
    sessionStorage.removeItem(PENDING);
    for (const k of ["code", "state", "session_state", "iss", "error", "error_description"]) q.delete(k);
    history.replaceState(null, "", location.pathname + (q.toString() ? `?${q}` : ""));
    if (failed) return "Đăng nhập không thành công; hãy thử lại.";
    if (!pending || pending.state !== sent) return "Phản hồi đăng nhập không khớp phiên này; hãy đăng nhập lại.";
    await tokenRequest({ grant_type: "authorization_code", code, redirect_uri: redirectUri(),
      code_verifier: pending.verifier });
    return null;
  }

  async function signOut() {
    const idToken = auth.tokens && auth.tokens.id_token;
    forget();
    try {
      const d = await discover();
      if (d.end_session_endpoint) {
        const q = new URLSearchParams({ client_id: auth.config.client_id, post_logout_redirect_uri: redirectUri() });
        if (idToken) q.set("id_token_hint", idToken);
        location.assign(`${d.end_session_endpoint}?${q}`);
      }
    } catch {
      // The provider is away: this page has forgotten the tokens; the provider's session ends on its own.
    }
  }

  async function start() {
    try {
      const r = await fetch("/v1/reports/config");
      auth.config = r.ok ? (await r.json()).sign_in : { enabled: false };
    } catch {
      auth.config = { enabled: false };
    }
    if (!auth.config.enabled) return changed();
    let message = null;
    try {
      message = await completeSignIn();
    } catch {
      message = "Không hoàn tất được đăng nhập; hãy thử lại.";
    }
    changed(message);
  }

  return {
    start, signIn, signOut,
    enabled: () => Boolean(auth.config && auth.config.enabled),
    bearer: () => (auth.tokens ? auth.tokens.access_token : null),
    person: () => auth.claims,
    onChange: (fn) => listeners.push(fn),
  };
})();
