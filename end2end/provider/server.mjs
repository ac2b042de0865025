// A real OpenID Provider for development and tests, on this machine, with no
// account and no internet: the certified `oidc-provider` package, set up to
// behave the way an Authgear project for this app does.
//
//   node end2end/provider/server.mjs        (or `npm run provider` in end2end/)
//
// Sign in with any login and any password. The demo users (see `users`) have
// Authgear's claims: `ada` is an admin with a verified email, `grace` has an
// unverified one and no role, `anon` is an anonymous user who cannot sign in
// again; any other login has only a subject, so the app's name fallback shows.
// Like Authgear it opens its sign-up page for `x_page=signup`, reads
// `ui_locales` and `x_color_scheme`, serves an account settings page at
// `/settings`, and signs out without a confirmation page when the logout
// carries an `id_token_hint`. Its sign-in form can also backdate a sign-in
// ("signed in minutes ago"), so the app's step-up can be tried without waiting.
// Development only: keys, cookie keys and storage are throwaway and in memory.
import dns from "node:dns";
import http from "node:http";
import Provider from "oidc-provider";

// The app listens on 127.0.0.1; Node would try ::1 first for "localhost"
// when it posts back-channel logout tokens to the app.
dns.setDefaultResultOrder("ipv4first");

const env = (name, fallback) => process.env[name] || fallback;
const host = env("PROVIDER_HOST", "127.0.0.1");
const port = Number(env("PROVIDER_PORT", "4000"));
// 127.0.0.1, not localhost: the app runs on localhost, so the provider is
// another site, as Authgear is, and SameSite cookie rules apply for real.
const issuer = env("PROVIDER_ISSUER", `http://127.0.0.1:${port}`);
const appUrl = env("APP_URL", "http://localhost:3000");
const accessTokenTtl = Number(env("PROVIDER_ACCESS_TOKEN_TTL", "3600"));

// Authgear's own claims, in the ID token and in userinfo.
const AUTHGEAR = "https://authgear.com/claims/user/";
// No prototype: a login such as `__proto__` is just another user.
const users = Object.assign(Object.create(null), {
  ada: {
    name: "Ada Lovelace",
    email: "ada@example.com",
    email_verified: true,
    roles: ["admin"],
    custom_attributes: { team: "Analytical Engine" },
  },
  grace: { name: "Grace Hopper", email: "grace@example.com", email_verified: false, roles: [] },
  anon: { anonymous: true },
});

function claimsOf(id) {
  const { anonymous = false, roles = [], ...profile } = users[id] ?? {};
  return {
    sub: id,
    ...profile,
    [`${AUTHGEAR}is_anonymous`]: anonymous,
    [`${AUTHGEAR}is_verified`]: profile.email_verified === true,
    [`${AUTHGEAR}can_reauthenticate`]: !anonymous,
    [`${AUTHGEAR}roles`]: roles,
  };
}

// What happened, for tests that must prove a side effect on the provider
// (a refresh, a revocation, a logout) rather than infer it from the app.
const events = [];
// Every token string handed out, so tests can check none reaches the browser.
const issued = [];
const record = (type, detail = {}) => {
  events.push({ type, at: new Date().toISOString(), ...detail });
  // Bounded, so a long development session does not grow without limit.
  if (events.length > 1000) events.shift();
};

const escape = (text) =>
  String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body, scheme = "light") {
  const dark = scheme === "dark";
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;
background:${dark ? "#14171f" : "#f6f7fb"};color:${dark ? "#e8eaf0" : "#1d2433"}}
label{display:block;margin:.75rem 0 .25rem}input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}
button{font:inherit;margin:1rem .5rem 0 0;padding:.5rem 1rem}.hint{font-size:.85rem;opacity:.8}</style>
</head><body data-color-scheme="${escape(scheme)}"><main>${body}</main></body></html>`;
}

// Authgear signs out at once when the logout names the session's ID token
// (`id_token_hint`); only a logout without one asks first.
function logoutSource(ctx, form) {
  const hinted = Boolean(ctx.oidc.params.id_token_hint);
  const submit = hinted
    ? `<script>const f = document.getElementById("op.logoutForm");
const yes = Object.assign(document.createElement("input"), { type: "hidden", name: "logout", value: "yes" });
f.appendChild(yes); f.submit();</script>`
    : "";
  ctx.body = page(
    "Sign out",
    `${form}<h1>Sign out</h1><p>Do you want to sign out of the local provider?</p>
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>${submit}`,
  );
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env("PROVIDER_CLIENT_ID", "authgear-leptos-demo"),
      client_secret: env("PROVIDER_CLIENT_SECRET", "local-dev-secret-not-for-production"),
      redirect_uris: [`${appUrl}/callback`],
      post_logout_redirect_uris: [`${appUrl}/`],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
      // When the provider's session ends, it tells the app.
      backchannel_logout_uri: `${appUrl}/backchannel-logout`,
      backchannel_logout_session_required: true,
      // Authgear's ID tokens always say when the user signed in.
      require_auth_time: true,
    },
  ],
  // Authgear's authorization parameters beyond the standard ones.
  extraParams: ["x_page", "x_color_scheme"],
  // The ID token carries the profile and Authgear's claims, as Authgear's does.
  conformIdTokenClaims: false,

  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return claimsOf(id);
      },
    };
  },

  // Authgear's userinfo returns the profile for `openid` alone, without the
  // `profile`/`email` scopes, and the app asks for no more than that.
  claims: {
    amr: null,
    openid: [
      "sub",
      "name",
      "email",
      "email_verified",
      "custom_attributes",
      `${AUTHGEAR}is_anonymous`,
      `${AUTHGEAR}is_verified`,
      `${AUTHGEAR}can_reauthenticate`,
      `${AUTHGEAR}roles`,
    ],
  },
  scopes: ["openid", "offline_access"],

  // oidc-provider strips `offline_access` from any authorization request that
  // lacks prompt=consent (a reading OpenID Connect Core §11 allows), and by
  // default only issues refresh tokens for `offline_access`. Authgear issues
  // one without prompt=consent, so issue one whenever the client may refresh.
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed("refresh_token");
  },
  // Without `offline_access` in the scope, tokens would otherwise die with the
  // provider's browser session, and ending that session would revoke them.
  // Refresh tokens must outlive it, and a sign-out test must prove the app
  // revoked its own token rather than get it revoked by the provider.
  async expiresWithSession() {
    return false;
  },

  // A first-party client: Authgear shows it no consent screen, so every scope
  // it asks for is granted as soon as the person has signed in.
  async loadExistingGrant(ctx) {
    const { client, session, account, provider: op } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    let grant = grantId ? await op.Grant.find(grantId) : undefined;
    // A grant revoked or left from another account must not be reused.
    if (!grant || grant.accountId !== account.accountId || grant.clientId !== client.clientId) {
      grant = new op.Grant({ clientId: client.clientId, accountId: account.accountId });
    }
    grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(" "));
    grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
    await grant.save();
    return grant;
  },

  // The app must send S256 PKCE even though it is a confidential client.
  pkce: { required: () => true },
  // Like Authgear can be: every refresh token works exactly once, and a reused
  // one fails with invalid_grant (and revokes the grant, as reuse detection).
  rotateRefreshToken: true,
  ttl: {
    AccessToken: accessTokenTtl,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    RefreshToken: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
  },
  // One machine, one clock: an access token must stop working when its
  // expires_in says, not 15 seconds later (the default leeway), so tests with a
  // short PROVIDER_ACCESS_TOKEN_TTL see the provider reject it on time.
  clockTolerance: 0,
  features: {
    backchannelLogout: { enabled: true },
    // The sign-in pages are this file's own (see `interaction`).
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource },
    userinfo: { enabled: true },
  },
  // oidc-provider refuses outgoing requests to loopback addresses (an SSRF
  // guard). This provider's only outgoing request is the back-channel logout
  // to the app, which runs on this machine: let exactly that one through.
  fetch(url, options) {
    if (new URL(url).origin === new URL(appUrl).origin) delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
  // A fixed key, so browser cookies survive a provider restart.
  cookies: { keys: ["local-development-provider-cookie-key"] },
});

provider.on("grant.success", (ctx) => {
  const { access_token, refresh_token, id_token } = ctx.body ?? {};
  issued.push(...[access_token, refresh_token, id_token].filter(Boolean));
  record("grant.success", { grant_type: ctx.oidc.params.grant_type });
});
for (const type of ["grant.revoked", "end_session.success", "authorization.success"]) {
  provider.on(type, () => record(type));
}
for (const type of ["refresh_token.consumed", "refresh_token.destroyed", "access_token.destroyed"]) {
  provider.on(type, () => record(type));
}
provider.on("backchannel.success", () => record("backchannel.success"));
provider.on("backchannel.error", (_ctx, err) =>
  record("backchannel.error", { error: String(err?.cause?.code ?? err?.message ?? err) }),
);
for (const type of ["grant.error", "revocation.error", "userinfo.error", "end_session.error", "authorization.error"]) {
  provider.on(type, (_ctx, err) => record(type, { error: err?.error ?? String(err) }));
}
// oidc-provider emits no success event for these two endpoints.
provider.use(async (ctx, next) => {
  await next();
  const route = ctx.oidc?.route;
  if ((route === "revocation" || route === "userinfo") && ctx.status === 200) {
    record(`${route}.success`);
  }
});

// A tiny test API beside the provider, outside oidc-provider's routes.
const json = (res, status, body) => {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify(body));
};
const readForm = async (req) => {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16_384) break;
  }
  return new URLSearchParams(body);
};
const html = (res, status, body) => {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(body);
};

// The sign-in, sign-up and "confirm it's you" pages, like Authgear's.
function signInPage({ uid, params, prompt }, error = "") {
  const signup = params.x_page === "signup";
  const reauth = prompt.reasons.includes("login_prompt") && Boolean(params.id_token_hint);
  const title = signup ? "Create your account" : reauth ? "Confirm it's you" : "Sign in";
  const action = signup ? "Create account" : reauth ? "Confirm" : "Sign in";
  return page(
    title,
    `<h1>${title}</h1>
<p class="hint">Local development provider. Any login and password work; try <code>ada</code>
(admin), <code>grace</code> (unverified email) or <code>anon</code> (anonymous).</p>
<p class="hint" data-testid="ui-locales">Languages: ${escape(params.ui_locales || "not given")}</p>
<p class="hint" data-testid="color-scheme">Theme: ${escape(params.x_color_scheme || "not given")}</p>
${error ? `<p role="alert">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}">
<label for="login">Login</label><input id="login" name="login" autocomplete="username" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<label for="age">Signed in minutes ago (to try step-up)</label><input id="age" name="minutes_ago" inputmode="numeric" value="0">
<button type="submit">${action}</button><button type="submit" name="cancel" value="yes">Cancel</button>
</form>`,
    params.x_color_scheme,
  );
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  const finish = (result) =>
    provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  if (prompt.name === "consent") {
    // A first-party client: Authgear asks no consent.
    const grant = new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    grant.addOIDCScope(String(params.scope));
    return finish({ consent: { grantId: await grant.save() } });
  }
  if (req.method !== "POST") return html(res, 200, signInPage(details));
  const form = await readForm(req);
  if (form.get("cancel")) {
    return finish({ error: "access_denied", error_description: "The user cancelled the sign-in." });
  }
  const login = (form.get("login") ?? "").trim().toLowerCase();
  if (!/^[a-z0-9._-]{1,64}$/.test(login)) {
    return html(res, 400, signInPage(details, "Type a login: letters, digits, dots, dashes."));
  }
  if (params.x_page === "signup" && !users[login]) {
    users[login] = { name: login, email: `${login}@example.com`, email_verified: false };
    record("signup", { login });
  }
  const minutesAgo = Math.max(0, Number(form.get("minutes_ago")) || 0);
  const ts = Math.floor(Date.now() / 1000) - Math.floor(minutesAgo * 60);
  record("login", { login, prompt: params.prompt ?? null, max_age: params.max_age ?? null });
  return finish({ login: { accountId: login, ts, amr: ["pwd"] } });
}

// A stand-in for Authgear's account settings page (`<issuer>/settings`):
// change the display name, then close the tab and go back to the app.
async function settings(req, res) {
  const ctx = provider.createContext(req, res);
  const session = await provider.Session.get(ctx);
  const id = session.accountId;
  if (!id) return html(res, 401, page("Account settings", "<h1>Account settings</h1><p>You are not signed in here.</p>"));
  if (req.method === "POST") {
    // Only this page's own form may change the profile.
    if (req.headers.origin !== new URL(issuer).origin) {
      return html(res, 403, page("Account settings", "<h1>Request refused</h1>"));
    }
    const name = (await readForm(req)).get("name")?.trim().slice(0, 100);
    users[id] = { ...users[id], ...(name ? { name } : {}) };
    record("profile.updated", { login: id });
  }
  const user = claimsOf(id);
  return html(
    res,
    200,
    page(
      "Account settings",
      `<h1>Account settings</h1><p>Signed in as <code>${escape(id)}</code>.</p>
<form method="post" action="/settings"><label for="name">Name</label>
<input id="name" name="name" value="${escape(user.name)}" autocomplete="name">
<button type="submit">Save</button></form>
<p>Close this tab to go back to the app.</p>`,
    ),
  );
}

// Every request the app (or a browser) made, by path: how many, and the
// milliseconds the provider spent answering them, so that a benchmark can
// show the app made no call and subtract the provider's own time.
const served = {};
const count = (req, res, path) => {
  const started = process.hrtime.bigint();
  res.on("finish", () => {
    const entry = (served[path] ??= { count: 0, ms: 0 });
    entry.count += 1;
    entry.ms += Number(process.hrtime.bigint() - started) / 1e6;
  });
};

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  const path = req.url.split("?")[0];
  try {
    if (path === "/__test__/events" && req.method === "GET") return json(res, 200, events);
    if (path === "/__test__/tokens" && req.method === "GET") return json(res, 200, issued);
    if (path === "/__test__/requests" && req.method === "GET") return json(res, 200, served);
    if (path === "/__test__/reset" && req.method === "POST") {
      events.length = 0;
      issued.length = 0;
      for (const path of Object.keys(served)) delete served[path];
      return json(res, 200, { ok: true });
    }
    count(req, res, path);
    if (path.startsWith("/interaction/")) return await interaction(req, res);
    if (path === "/settings") return await settings(req, res);
  } catch (error) {
    console.error(error);
    return html(res, 400, page("Error", `<h1>Something went wrong</h1><p>${escape(error.message)}</p>`));
  }
  return callback(req, res);
});

server.listen(port, host, () => {
  console.log(`local OpenID provider ready at ${issuer}`);
});

// Browsers keep connections open; without this, a test run's teardown would
// wait on them, or leave the port taken for the next run.
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
