// What the documentation page shows beside the contract: the endpoints outside /v1 (health, readiness, metrics, the
// contract itself). They stay out of openapi/berth.yaml, which is the /v1 API (its validator, role rules and CLI
// read every path in it); the page documents them all the same, so "try it out" works on /healthz too.
import { contract, type OpenApiDocument } from '../contract/openapi.js';

const TAG = 'outside /v1';

const answer = (description: string, schema: Record<string, unknown>) => ({
  description,
  content: { 'application/json': { schema }, 'application/yaml': { schema } },
});

const status = (values: string[]) => ({ type: 'object', required: ['status'], properties: { status: { type: 'string', enum: values } } });

/** Paths outside /v1; `metricsAnonymous` says whether /metrics needs a token. */
function openPaths(metricsAnonymous: boolean): Record<string, unknown> {
  return {
    '/healthz': {
      get: {
        tags: [TAG],
        summary: 'Liveness: Berth answers',
        operationId: 'health',
        security: [],
        responses: { '200': answer('Berth is up', { ...status(['ok']), examples: [{ status: 'ok' }] }) },
      },
    },
    '/readyz': {
      get: {
        tags: [TAG],
        summary: 'Readiness: the configuration store serves and the secret store (if any) is unsealed',
        operationId: 'readiness',
        security: [],
        responses: {
          '200': answer('Ready', { ...status(['ready']), examples: [{ status: 'ready', checks: { store: 'ok', 'secret-store': 'unsealed' } }] }),
          '503': answer('Not ready: `checks` says what is not', status(['not ready'])),
        },
      },
    },
    '/metrics': {
      get: {
        tags: [TAG],
        summary: 'Prometheus metrics (text exposition format)',
        description:
          'HTTP requests by route template, pulls, the site registry, the secret store, the configuration store, sites, and the process. ' +
          (metricsAnonymous ? 'Open (BERTH_METRICS_ANONYMOUS=true).' : 'Needs a token of a role that reads (admin, operator, read).'),
        operationId: 'metrics',
        ...(metricsAnonymous ? { security: [] } : {}),
        responses: {
          '200': { description: 'The metrics', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } },
          '401': { $ref: '#/components/responses/Error' },
          '403': { $ref: '#/components/responses/Error' },
        },
      },
    },
    '/openapi.yaml': {
      get: {
        tags: [TAG],
        summary: 'The contract, openapi/berth.yaml',
        operationId: 'contractYaml',
        security: [],
        responses: { '200': { description: 'The OpenAPI document', content: { 'application/yaml': { schema: { type: 'string' } } } } },
      },
    },
  };
}

/** The contract with the endpoints outside /v1 added after its own paths, as the documentation page renders it. */
export function documentedApi(metricsAnonymous: boolean): OpenApiDocument {
  const tags = (contract.tags as unknown[] | undefined) ?? [];
  return {
    ...contract,
    tags: [...tags, { name: TAG, description: 'Endpoints beside the /v1 API: not part of the contract.' }],
    paths: { ...(contract.paths as Record<string, unknown>), ...openPaths(metricsAnonymous) },
  };
}
