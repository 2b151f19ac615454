// A certified OpenID provider (panva/oidc-provider) on loopback for the SSO tests.
// Configuration arrives as JSON in IDP_CONFIG: {port, clients: [...], accounts: {login: claims}}.
import http from 'node:http';
import Provider from 'oidc-provider';

const cfg = JSON.parse(process.env.IDP_CONFIG);
// cfg.mounts puts one provider under each path, as Entra's per-tenant issuers are.
const mounts = cfg.mounts || [''];
const accounts = cfg.accounts || {};
const shortLived = new Set(cfg.shortLivedClients || []);

function makeProvider(mount) {
  const provider = new Provider(`http://127.0.0.1:${cfg.port}${mount}`, {
    clients: cfg.clients,
    async findAccount(ctx, id) {
      const claims = accounts[id];
      if (!claims) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...claims }; } };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username',
                'tid', 'oid', 'hd', 'xms_edov', 'groups', 'roles'],
    },
    // Put scope claims in the ID token too (Entra, Google and Okta do).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['connector-test-cookie-key'] },
    ttl: { IdToken: (ctx, token, client) => (shortLived.has(client.clientId) ? 1 : 3600) },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  return provider;
}

const routes = mounts.map((mount) => [mount, makeProvider(mount).callback()]);
http.createServer((req, res) => {
  const hit = routes.find(([mount]) => mount === '' || req.url.startsWith(mount + '/'));
  if (!hit) { res.statusCode = 404; res.end(); return; }
  req.originalUrl = req.url;
  req.url = req.url.slice(hit[0].length) || '/';
  hit[1](req, res);
}).listen(cfg.port, '127.0.0.1', () => console.log('ready'));
