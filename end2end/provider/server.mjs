// A real OpenID Provider for development and tests, on this machine, with no
// account and no internet: the certified `oidc-provider` package, set up the
// way an Authgear project for this app is.
//
//   node end2end/provider/server.mjs
//
// Sign in with any login and password. The login `ada` has a name and an
// email; any other login has only a subject, so the app's name fallback shows.
import http from "node:http";
import Provider from "oidc-provider";

const env = (name, fallback) => process.env[name] || fallback;
const host = env("PROVIDER_HOST", "127.0.0.1");
const port = Number(env("PROVIDER_PORT", "4000"));
// 127.0.0.1, not localhost: the app runs on localhost, so the provider is
// another site, as Authgear is, and SameSite cookie rules apply for real.
const issuer = env("PROVIDER_ISSUER", `http://${host}:${port}`);
const appUrl = env("APP_URL", "http://localhost:3000");

const accounts = {
  ada: { name: "Ada Lovelace", email: "ada@example.com", email_verified: true },
};

// Token strings the provider handed out, so tests can check none reaches the browser.
const issued = [];
const events = [];
const remember = (type) => events.push({ type, at: new Date().toISOString() });

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
    },
  ],
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...(accounts[id] ?? {}) };
      },
    };
  },
  // Authgear returns the profile for `openid` alone; so does this provider.
  claims: {
    openid: ["sub", "name", "email", "email_verified"],
  },
  scopes: ["openid", "offline_access"],
  // The app never sees a consent screen from Authgear for its own client.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid offline_access");
    grant.addOIDCClaims(["name", "email", "email_verified"]);
    await grant.save();
    return grant;
  },
  pkce: { required: () => true },
  // Like Authgear can be: a refresh token works exactly once.
  rotateRefreshToken: true,
  ttl: {
    AccessToken: Number(env("PROVIDER_ACCESS_TOKEN_TTL", "3600")),
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  // Fixed development-only keys, so cookies survive a provider restart.
  cookies: { keys: ["local-development-provider-cookie-key"] },
});

// Development only: oidc-provider warns about http and its in-memory store.
provider.proxy = false;

provider.on("grant.success", (ctx) => {
  const { access_token, refresh_token, id_token } = ctx.body ?? {};
  issued.push(...[access_token, refresh_token, id_token].filter(Boolean));
  remember(ctx.oidc.params.grant_type === "refresh_token" ? "refresh" : "code_exchange");
});
provider.on("grant.revoked", () => remember("grant_revoked"));
provider.on("refresh_token.destroyed", () => remember("refresh_token_revoked"));
provider.on("end_session.success", () => remember("end_session"));

// oidc-provider grants offline_access only when the request also says
// prompt=consent (OpenID Connect Core §11 allows that reading); Authgear does
// not need it. Adding it here keeps the app's requests the same for both.
provider.use(async (ctx, next) => {
  if (ctx.path === "/auth" && /(^|\s)offline_access(\s|$)/.test(ctx.query.scope ?? "") && !ctx.query.prompt) {
    ctx.query = { ...ctx.query, prompt: "consent" };
  }
  await next();
});

// A small test API beside the provider: what was issued and what happened.
const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url === "/__test__/tokens" && req.method === "GET") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify(issued));
  }
  if (req.url === "/__test__/events" && req.method === "GET") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify(events));
  }
  return callback(req, res);
});

server.listen(port, host, () => {
  console.log(`local OpenID provider ready at ${issuer}`);
});

const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
