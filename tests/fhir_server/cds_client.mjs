// Drives a CDS service with Medplum's CDS Hooks client functions, as an EHR would:
// discovery (getCdsServices), the request with prefetch resolved against a FHIR server (buildCdsRequest),
// and the call (callCdsService). Prints one JSON object per service of the hook.
//   node --experimental-websocket cds_client.mjs --cds http://127.0.0.1:P --fhir http://127.0.0.1:Q \
//        --patient pat-1 --hook patient-view [--context '{"draftOrders": ...}']
import { buildCdsRequest, MedplumClient } from '@medplum/core';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const cds = new MedplumClient({ baseUrl: arg('cds'), fetch: globalThis.fetch });
const fhir = new MedplumClient({ baseUrl: arg('fhir'), fhirUrlPath: 'fhir/R4', fetch: globalThis.fetch });
const user = { resourceType: 'Practitioner', id: 'example' };
const context = { patientId: arg('patient'), userId: 'Practitioner/example', ...JSON.parse(arg('context', '{}')) };

const discovery = await cds.getCdsServices({ cache: 'no-cache' });
const results = [];
for (const service of discovery.services.filter((s) => s.hook === arg('hook'))) {
  const request = await buildCdsRequest(fhir, user, service, context);
  const response = await cds.callCdsService(service.id, request, { cache: 'no-cache' });
  results.push({ service: service.id, prefetchKeys: Object.keys(request.prefetch), response });
}
console.log(JSON.stringify({ discovery, results }));
