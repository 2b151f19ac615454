// A certified OpenID provider (panva/oidc-provider) on loopback for the SSO tests.
// Configuration arrives as JSON in IDP_CONFIG: {port, clients: [...], accounts: {login: claims}}.
import Provider from 'oidc-provider';

const cfg = JSON.parse(process.env.IDP_CONFIG);
const issuer = cfg.issuer || `http://127.0.0.1:${cfg.port}`;
const accounts = cfg.accounts || {};
const shortLived = new Set(cfg.shortLivedClients || []);

const provider = new Provider(issuer, {
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
provider.listen(cfg.port, '127.0.0.1', () => console.log('ready'));
