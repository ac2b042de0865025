// A real OpenID Provider for development and tests, on this machine, with no
// account and no internet: the certified `oidc-provider` package, set up to
// behave the way an Authgear project for this app does.
//
//   node end2end/provider/server.mjs        (or `npm run provider` in end2end/)
//
// Sign in with any login and any password. The login `ada` has a name and an
// email; any other login has only a subject, so the app's name fallback shows.
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

const profiles = {
  ada: { name: "Ada Lovelace", email: "ada@example.com", email_verified: true },
};

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
    },
  ],

  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...profiles[id] };
      },
    };
  },

  // Authgear's userinfo returns the profile for `openid` alone, without the
  // `profile`/`email` scopes, and the app asks for no more than that.
  claims: {
    openid: ["sub", "name", "email", "email_verified"],
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
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
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
const callback = provider.callback();
const server = http.createServer((req, res) => {
  const path = req.url.split("?")[0];
  if (path === "/__test__/events" && req.method === "GET") return json(res, 200, events);
  if (path === "/__test__/tokens" && req.method === "GET") return json(res, 200, issued);
  if (path === "/__test__/reset" && req.method === "POST") {
    events.length = 0;
    issued.length = 0;
    return json(res, 200, { ok: true });
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
