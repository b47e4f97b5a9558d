// A real OpenID Connect provider (panva's oidc-provider 9) for the tests,
// plus two small key helpers the tests use to forge tokens.
//
//   node oidc-provider.mjs serve          start the provider (env below)
//   node oidc-provider.mjs genkey [KID]   print one new RS256 private JWK
//   node oidc-provider.mjs sign KEYFILE   sign the JSON claims read from stdin
//
// serve reads:
//   OIDC_PORT            listen on 127.0.0.1:PORT; the issuer is exactly
//                        http://127.0.0.1:PORT (no trailing slash)
//   OIDC_JWKS            a JSON file {"keys": [private JWKs]}; the FIRST key
//                        signs, all are published at /jwks. Created with one
//                        new RS256 key when it does not exist.
//   OIDC_EXTRA_REDIRECTS comma-separated extra redirect URIs for the
//                        `winventory` client (their post-logout URI is the
//                        same with /auth/callback replaced by /)
//   OIDC_MODULES         folder whose node_modules holds oidc-provider
//                        (default: .peers/oidc of this repository)
//
// Module resolution: ESM ignores NODE_PATH, so the provider is found with
// createRequire(OIDC_MODULES/package.json).resolve('oidc-provider') and then
// loaded with a dynamic import() of that absolute file URL. genkey and sign
// only use node:crypto and need no installed packages.
//
// See scripts/lib/oidc.sh for the shell side (install, start, stop).
//
// Clients: winventory / winventory-secret (code flow; PKCE S256 required;
// client_secret_basic or client_secret_post), collector-ci /
// collector-secret and viewer-ci / viewer-secret (client_credentials only).
// A client-credentials token needs no resource parameter (resource
// urn:winventory-api is the default and the only one accepted; a bare
// "winventory-api" is refused because a resource must be an absolute URI):
// an RS256 JWT, header typ at+jwt and the kid of the first key, claims iss,
// sub = client_id = the client, aud winventory-api, iat, exp (+600 s), jti,
// roles ["collector"] / ["viewer"], scope "api" only when scope=api is sent.
// Accounts: alice, bob, carol, dave, erin, stranger (any password); another
// login ends the flow with error=access_denied on the callback. Scopes
// email, profile and groups put email/email_verified, name/
// preferred_username/locale and groups into the ID token (and /me).
//
// The code flow with a cookie jar, no automatic redirects (relative
// Locations resolve against the issuer):
//  1. GET  /auth?client_id=winventory&response_type=code&redirect_uri=R
//          &scope=openid email profile groups&state=S&nonce=N
//          &code_challenge=C&code_challenge_method=S256
//     -> 303, Location /interaction/UID1 (relative). Sets _interaction(.sig)
//        (Path=/interaction/UID1) and _interaction_resume(.sig) (Path=/auth/UID1).
//  2. GET  /interaction/UID1 -> 200 login form (optional: the POST needs no
//     value from it; its action is ISSUER/interaction/UID1).
//  3. POST /interaction/UID1, form prompt=login&login=alice&password=anything
//     -> 303, Location ISSUER/auth/UID1 (absolute).
//  4. GET  ISSUER/auth/UID1 -> 303, Location /interaction/UID2 (new cookies as
//     in 1, and the session cookie _session(.sig), Path=/).
//  5. POST /interaction/UID2, form prompt=consent -> 303, Location ISSUER/auth/UID2.
//     (A GET of /interaction/UID2 first shows the consent form; optional.)
//  6. GET  ISSUER/auth/UID2 -> 303, Location R?code=...&state=S&iss=ISSUER
//     (do not follow). An unknown login gives R?error=access_denied
//     &error_description=unknown+account&state=S&iss=ISSUER here instead.
//  7. POST /token, Basic winventory:winventory-secret, form grant_type=
//     authorization_code&code=...&redirect_uri=R&code_verifier=V
//     -> 200 JSON access_token (opaque, good at /me), id_token, expires_in,
//        scope, token_type Bearer.
// With the jar still holding _session, a new /auth for the same scopes
// answers 303 straight to R?code=... (no login, no consent); add
// prompt=login to get the login form again.
//
// RP-initiated logout with the same jar:
//  1. GET  /session/end?id_token_hint=ID&post_logout_redirect_uri=P&state=S2
//     (or client_id=winventory instead of id_token_hint; P must be a
//     registered one such as http://winventory.test/) -> 200 HTML with one
//     form, action ISSUER/session/end/confirm, hidden fields xsrf=HEX and
//     logout=yes (the page posts it by script). Without a session it is
//     still such a form; either way it sets _session(.sig).
//  2. POST ISSUER/session/end/confirm, form xsrf=HEX&logout=yes (send the
//     _session cookies) -> 303, Location P?state=S2 (or
//     ISSUER/session/end/success without P); _session is expired.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function die(message) {
    process.stderr.write(`oidc-provider.mjs: ${message}\n`);
    process.exit(1);
}

// ---------------------------------------------------------------- keys --

function newKey(kid) {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = privateKey.export({ format: 'jwk' });
    return {
        kid: kid || `key-${crypto.randomBytes(6).toString('hex')}`,
        alg: 'RS256',
        use: 'sig',
        ...jwk,
    };
}

// A key file is a single JWK or a {"keys": [...]} set (then its first key).
function readSigningKey(file) {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    const jwk = Array.isArray(parsed.keys) ? parsed.keys[0] : parsed;
    if (!jwk || jwk.kty !== 'RSA' || !jwk.d) die(`${file}: no private RSA JWK`);
    return jwk;
}

const b64u = (value) => Buffer.from(value).toString('base64url');

function signJwt(jwk, claims, typ) {
    const header = { alg: 'RS256', ...(jwk.kid ? { kid: jwk.kid } : {}), typ };
    const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
    const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
    const signature = crypto.sign('sha256', Buffer.from(input), key); // RSASSA-PKCS1-v1_5
    return `${input}.${signature.toString('base64url')}`;
}

// ------------------------------------------------------------- provider --

const ACCOUNTS = {
    alice: { email: 'alice@example.org', name: 'Alice Admin', groups: ['it-admins'] },
    bob: { email: 'bob@example.org', name: 'Bob Helpdesk', groups: ['helpdesk'] },
    carol: { email: 'carol@example.org', name: 'Carol Owner', groups: [] },
    dave: { email: 'dave@example.org', name: 'Dave Licences', groups: ['licence-desk'] },
    erin: { email: 'erin@example.org', name: 'Erin Campaigns', groups: ['campaign-team'] },
    // Known here, but meant to be unknown to the application's directory.
    stranger: { email: 'stranger@example.org', name: 'Stranger Danger', groups: ['it-admins'] },
};

// Machine clients' tokens carry roles; the resource they are for.
const CLIENT_ROLES = { 'collector-ci': ['collector'], 'viewer-ci': ['viewer'] };
// A resource indicator must be an absolute URI; the audience need not be.
const API_RESOURCE = 'urn:winventory-api';
const API_AUDIENCE = 'winventory-api';

async function loadModules() {
    const base = process.env.OIDC_MODULES || path.resolve(here, '../../.peers/oidc');
    const require = createRequire(path.join(base, 'package.json'));
    let entry;
    try {
        entry = require.resolve('oidc-provider');
    } catch {
        die(`oidc-provider is not installed under ${base}/node_modules (set OIDC_MODULES)`);
    }
    return import(pathToFileURL(entry).href);
}

function loadOrCreateJwks(file) {
    if (!fs.existsSync(file)) {
        const jwks = { keys: [newKey()] };
        fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
        fs.writeFileSync(file, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
        return jwks;
    }
    const jwks = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) die(`${file}: no keys`);
    return jwks;
}

// A form the page submits by itself; a headless client POSTs its fields.
function autoPostPage(title, formHtml) {
    return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${title}</title></head>
<body>
<h1>${title}</h1>
${formHtml}
<noscript><button type="submit" form="op.logoutForm">Continue</button></noscript>
<script>document.forms[0].submit()</script>
</body></html>`;
}

async function serve() {
    const port = Number(process.env.OIDC_PORT);
    if (!Number.isInteger(port) || port <= 0) die('set OIDC_PORT');
    const jwksFile = process.env.OIDC_JWKS;
    if (!jwksFile) die('set OIDC_JWKS');
    const { default: Provider, errors } = await loadModules();
    const jwks = loadOrCreateJwks(jwksFile);
    const issuer = `http://127.0.0.1:${port}`;

    const callbacks = [
        'http://winventory.test/auth/callback',
        'https://winventory.test/auth/callback',
        ...(process.env.OIDC_EXTRA_REDIRECTS || '').split(',').map((s) => s.trim()).filter(Boolean),
    ];
    const postLogout = [...new Set(callbacks.map((uri) => uri.replace(/\/auth\/callback$/, '/')))];

    const configuration = {
        jwks,
        clients: [
            {
                client_id: 'winventory',
                client_secret: 'winventory-secret',
                // client_secret_post is accepted too: oidc-provider treats
                // the two secret methods as interchangeable.
                token_endpoint_auth_method: 'client_secret_basic',
                grant_types: ['authorization_code', 'refresh_token'],
                response_types: ['code'],
                redirect_uris: callbacks,
                post_logout_redirect_uris: postLogout,
            },
            ...Object.entries({ 'collector-ci': 'collector-secret', 'viewer-ci': 'viewer-secret' })
                .map(([clientId, secret]) => ({
                    client_id: clientId,
                    client_secret: secret,
                    token_endpoint_auth_method: 'client_secret_basic',
                    grant_types: ['client_credentials'],
                    response_types: [],
                    redirect_uris: [],
                    scope: 'api',
                })),
        ],
        async findAccount(_ctx, id) {
            const account = Object.hasOwn(ACCOUNTS, id) ? ACCOUNTS[id] : undefined;
            if (!account) return undefined; // unknown: no login
            return {
                accountId: id,
                async claims() {
                    return {
                        sub: id,
                        email: account.email,
                        email_verified: true,
                        name: account.name,
                        preferred_username: id,
                        groups: account.groups,
                        locale: 'en',
                    };
                },
            };
        },
        scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', 'api'],
        claims: {
            openid: ['sub'],
            email: ['email', 'email_verified'],
            profile: ['name', 'preferred_username', 'locale'],
            groups: ['groups'],
        },
        // Put the scope's claims into the ID token too, not only /me.
        conformIdTokenClaims: false,
        pkce: { required: () => true }, // S256 is the only method offered
        cookies: { keys: ['winventory-test-oidc-cookie-key'] },
        features: {
            devInteractions: { enabled: true },
            clientCredentials: { enabled: true },
            rpInitiatedLogout: {
                enabled: true,
                async logoutSource(ctx, form) {
                    // form is <form id="op.logoutForm" ... action=".../session/end/confirm">
                    // with a hidden xsrf; add logout=yes so posting it ends
                    // the whole session.
                    ctx.type = 'html';
                    ctx.body = autoPostPage('Signing out',
                        form.replace('</form>', '<input type="hidden" name="logout" value="yes"/></form>'));
                },
                async postLogoutSuccessSource(ctx) {
                    ctx.type = 'html';
                    ctx.body = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Signed out</title></head>'
                        + '<body><h1>Signed out</h1></body></html>';
                },
            },
            resourceIndicators: {
                enabled: true,
                // Machine clients get the API without asking for it; the
                // code flow keeps an opaque access token usable at /me.
                async defaultResource(ctx, client, oneOf) {
                    if (oneOf) return oneOf;
                    return client && client.grantTypes.includes('client_credentials') ? API_RESOURCE : undefined;
                },
                async useGrantedResource() {
                    return false;
                },
                async getResourceServerInfo(_ctx, resourceIndicator) {
                    if (resourceIndicator !== API_RESOURCE) throw new errors.InvalidTarget();
                    return {
                        scope: 'api',
                        audience: API_AUDIENCE,
                        accessTokenFormat: 'jwt',
                        jwt: { sign: { alg: 'RS256' } },
                    };
                },
            },
        },
        async extraTokenClaims(_ctx, token) {
            if (token.kind === 'ClientCredentials' && Object.hasOwn(CLIENT_ROLES, token.clientId)) {
                return { roles: CLIENT_ROLES[token.clientId] };
            }
            return undefined;
        },
    };

    const provider = new Provider(issuer, configuration);
    provider.proxy = false;

    // devInteractions accepts any login; an id findAccount does not know
    // would only bring the login form back. Finish such an interaction with
    // access_denied instead, so the client sees the failure on its callback.
    provider.use(async (ctx, next) => {
        if (ctx.method === 'POST' && /^\/interaction\/[^/]+$/.test(ctx.path)
            && ctx.is('application/x-www-form-urlencoded')) {
            const chunks = [];
            for await (const chunk of ctx.req) chunks.push(chunk);
            const body = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
            ctx.request.body = body; // oidc-provider reads a consumed body from here
            if (body.prompt === 'login' && !Object.hasOwn(ACCOUNTS, body.login || '')) {
                const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
                    error: 'access_denied',
                    error_description: 'unknown account',
                }, { mergeWithLastSubmission: false });
                ctx.status = 303;
                ctx.redirect(returnTo);
                return;
            }
        }
        await next();
    });

    const server = http.createServer(provider.callback());
    server.listen(port, '127.0.0.1', () => {
        process.stdout.write(`oidc-provider ready at ${issuer}\n`);
    });
    const stop = () => {
        server.close(() => process.exit(0));
        server.closeAllConnections();
        setTimeout(() => process.exit(0), 2000).unref();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

// ----------------------------------------------------------------- main --

const [command, arg] = process.argv.slice(2);
switch (command) {
    case 'serve':
        await serve();
        break;
    case 'genkey':
        process.stdout.write(`${JSON.stringify(newKey(arg))}\n`);
        break;
    case 'sign': {
        if (!arg) die('usage: sign KEYFILE < claims.json');
        const claims = JSON.parse(fs.readFileSync(0, 'utf8'));
        process.stdout.write(`${signJwt(readSigningKey(arg), claims, process.env.JWT_TYP || 'JWT')}\n`);
        break;
    }
    default:
        die('usage: oidc-provider.mjs serve | genkey [KID] | sign KEYFILE');
}
