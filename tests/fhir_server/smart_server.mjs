// An EHR's SMART on FHIR side for the integration tests, on 127.0.0.1 only: a real OAuth 2.0 / OpenID Connect
// authorisation server (oidc-provider) with the SMART launch context, in front of the Medplum FHIR test server.
//
//   node smart_server.mjs --port 0 --fhir http://127.0.0.1:PORT/fhir/R4 --redirect http://127.0.0.1:PORT/smart/callback
//                         [--token-ttl SECONDS]
//
// It serves:
//   /fhir/...                                   the FHIR server, with a Bearer token of this server only, and only
//                                               the token's patient (its compartment and its Patient resource)
//   /fhir/.well-known/smart-configuration       SMART App Launch 2.0 discovery (the iss is /fhir)
//   POST /ehr/launch {patient, appContext?}     the EHR starting a launch: answers {launch} (the test's "EHR")
//   everything else                             oidc-provider: /auth (login with any name: the dev interactions,
//                                               consent granted for this one first-party app), /token, /jwks...
// The token response carries `patient` (and `appContext` when the launch had one), as SMART requires.
// Prints "listening PORT" once ready.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, value, index, all) => (
  index % 2 === 0 ? [...pairs, [value.replace(/^--/, ''), all[index + 1]]] : pairs), []));
const upstream = args.fhir.replace(/\/$/, '');
const tokenTtl = Number(args['token-ttl'] || 300);

// The FHIR resources this EHR grants access to, in SMART v2 (.rs, .r) and v1 (.read) form.
const RESOURCES = ['Patient', 'Observation', 'DiagnosticReport', 'MedicationRequest', 'MedicationAdministration',
  'MedicationStatement', 'Medication', 'Procedure', 'Condition'];
const SCOPES = [
  'openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access',
  ...RESOURCES.flatMap((type) => [`patient/${type}.rs`, `patient/${type}.r`, `patient/${type}.read`]),
];
const launches = new Map(); // launch id -> { patient, appContext }
const codes = new Map(); // authorization code -> launch
const tokens = new Map(); // access token -> patient

const server = http.createServer();
server.listen(Number(args.port || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'neutropenia-cds', token_endpoint_auth_method: 'none', redirect_uris: [args.redirect],
      grant_types: ['authorization_code'], response_types: ['code'],
    }],
    scopes: SCOPES,
    extraParams: ['launch', 'aud'],
    pkce: { methods: ['S256'], required: () => true },
    ttl: { AccessToken: tokenTtl, AuthorizationCode: 60, Interaction: 600, Session: 600, Grant: 600, IdToken: 600 },
    features: { devInteractions: { enabled: true } },
    findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    async loadExistingGrant(ctx) { // consent for this first-party app: every scope it asked for
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.params.scope);
      await grant.save();
      return grant;
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.proxy = false;
  provider.use(async (ctx, next) => {
    if (ctx.path === '/auth' && ctx.method === 'GET') {
      const { launch, aud } = ctx.query;
      if (!launches.has(launch) || aud !== `${issuer}/fhir`) { // SMART: a known launch, for this FHIR server
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: 'unknown launch or aud' };
        return;
      }
    }
    await next();
    const location = ctx.response.get('location');
    if (location && location.startsWith(args.redirect) && ctx.oidc?.params?.launch) {
      const code = new URL(location).searchParams.get('code');
      if (code) codes.set(code, launches.get(ctx.oidc.params.launch));
    }
    if (ctx.path === '/token' && ctx.body?.access_token) {
      const launch = codes.get(ctx.oidc.params.code);
      codes.delete(ctx.oidc.params.code);
      if (launch) {
        ctx.body.patient = launch.patient;
        if (launch.appContext) ctx.body.appContext = launch.appContext;
        tokens.set(ctx.body.access_token, launch.patient);
      }
    }
  });
  const oidc = provider.callback();

  server.on('request', async (req, res) => {
    const url = new URL(req.url, issuer);
    if (url.pathname === '/fhir/.well-known/smart-configuration') {
      return json(res, 200, {
        issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`, grant_types_supported: ['authorization_code'],
        token_endpoint_auth_methods_supported: ['none'], code_challenge_methods_supported: ['S256'],
        scopes_supported: SCOPES, response_types_supported: ['code'],
        capabilities: ['launch-ehr', 'client-public', 'context-ehr-patient', 'permission-patient', 'permission-v1',
          'permission-v2', 'sso-openid-connect'],
      });
    }
    if (url.pathname === '/ehr/launch' && req.method === 'POST') {
      const body = JSON.parse(await read(req) || '{}');
      const launch = randomUUID();
      launches.set(launch, { patient: body.patient, appContext: body.appContext });
      return json(res, 200, { launch });
    }
    if (url.pathname.startsWith('/fhir/')) return fhir(req, res, url, provider);
    return oidc(req, res);
  });
  console.log(`listening ${server.address().port}`);
});

async function fhir(req, res, url, provider) {
  const token = (req.headers.authorization || '').replace(/^Bearer /, '');
  const found = token ? await provider.AccessToken.find(token) : undefined;
  if (!found || !tokens.has(token)) return json(res, 401, outcome('login', 'no valid access token'));
  const patient = tokens.get(token);
  const path = url.pathname.replace(/^\/fhir/, '');
  const own = path === `/Patient/${patient}` || url.searchParams.get('patient') === patient
    || url.searchParams.get('subject') === `Patient/${patient}`;
  if (!own) return json(res, 403, outcome('forbidden', 'not the patient of this token'));
  // as an EHR does: a read needs the type's r (or v1 read) scope, a search its s; an included type its r
  const type = path.split('/')[1];
  const needs = path.split('/').length > 2 ? 'r' : 's';
  const included = url.searchParams.getAll('_include').map((include) => (include.split(':')[1] === 'medication'
    ? 'Medication' : null)).filter(Boolean);
  const missing = [[type, needs], ...included.map((t) => [t, 'r'])].filter(([t, p]) => !grants(found.scope, t, p));
  if (missing.length) return json(res, 403, outcome('forbidden', `no scope for ${missing.map(([t]) => t).join(', ')}`));
  const answer = await fetch(upstream + path + url.search, { headers: { accept: 'application/fhir+json' } });
  res.writeHead(answer.status, { 'content-type': 'application/fhir+json' });
  res.end(Buffer.from(await answer.arrayBuffer()));
}

function grants(scope, type, permission) {
  return (scope || '').split(' ').some((granted) => {
    const match = /^patient\/([A-Za-z*]+)\.([a-z]+)$/.exec(granted);
    if (!match || (match[1] !== type && match[1] !== '*')) return false;
    return match[2] === 'read' || match[2] === '*' || (/^c?r?u?d?s?$/.test(match[2]) && match[2].includes(permission));
  });
}

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics: text }] };
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function read(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}
