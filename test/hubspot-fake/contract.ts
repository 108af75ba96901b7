import { readdirSync, readFileSync } from 'node:fs';
import addFormats from 'ajv-formats';
import { OpenAPIBackend, type Document } from 'openapi-backend';

/**
 * Checks the local HubSpot's responses against HubSpot's published OpenAPI specs (shared/hubspot-openapi/), with
 * openapi-backend (operation routing plus Ajv response validation), so the fake cannot drift into fiction.
 */

export interface ContractViolation {
  method: string;
  url: string;
  status: number;
  errors: string[];
}

export const SPEC_DIR = new URL('../../../shared/hubspot-openapi/', import.meta.url);

/**
 * Paths no published spec covers, each with the reason it is still served. Anything else the fake answers
 * without a matching operation is a violation.
 */
const UNSPECIFIED_PATHS: Array<{ pattern: RegExp; reason: string }> = [
  { pattern: /^\/oauth\/authorize$/, reason: "HubSpot's consent page is HTML on app.hubspot.com, not an API" },
];

/**
 * HubSpot's specs describe error responses with content type `*\/*`, which openapi-backend does not compile; the
 * APIs answer JSON, so those bodies are checked as application/json.
 */
function jsonForWildcards(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(jsonForWildcards);
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.entries(node).map(([key, value]) => {
    if (key === 'content' && typeof value === 'object' && value !== null && '*/*' in value && !('application/json' in value)) {
      const { '*/*': wildcard, ...rest } = value as Record<string, unknown>;
      return [key, jsonForWildcards({ ...rest, 'application/json': wildcard })];
    }
    return [key, jsonForWildcards(value)];
  });
  return Object.fromEntries(entries);
}

/**
 * HubSpot's public permissions API (BETA) is in no published spec, only in prose (developers.hubspot.com/docs/guides/
 * api/settings/users/public-permissions; what each part rests on is in routes/permissions.ts). This operation is
 * written from that prose so the fake is held to it like every other endpoint: exactly `resources`, keyed by hcrn,
 * each entry one of the four permission keys with exactly `permittedUsers` (integer user ids). Its errors use the
 * Error schema the published specs share, copied from one of them rather than retyped.
 */
function permissionsFromProse(): Document {
  const owners = JSON.parse(readFileSync(new URL('crm-owners-v3.json', SPEC_DIR), 'utf8')) as { components: { schemas: Record<string, unknown> } };
  const users = {
    type: 'object',
    required: ['permittedUsers'],
    additionalProperties: false,
    properties: { permittedUsers: { type: 'array', items: { type: 'integer', format: 'int64' } } },
  };
  const permissionKeys = ['crm-object:VIEW', 'crm-object:EDIT', 'crm-object:DELETE', 'crm-object:COMMUNICATE'];
  const json = (ref: string) => ({ description: '', content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });
  return {
    openapi: '3.0.1',
    info: { title: 'Public permissions (written from HubSpot prose)', version: 'v3' },
    paths: {
      '/resource-permissions/v3/permitted-users': {
        get: {
          operationId: 'get-/resource-permissions/v3/permitted-users',
          parameters: [
            {
              name: 'resource',
              in: 'query',
              required: true,
              style: 'form',
              explode: true,
              schema: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 20 },
            },
          ],
          responses: { '200': json('PermittedUsersResponse'), default: json('Error') },
        },
      },
    },
    components: {
      schemas: {
        Error: owners.components.schemas.Error,
        ErrorDetail: owners.components.schemas.ErrorDetail,
        PermittedUsersResponse: {
          type: 'object',
          required: ['resources'],
          additionalProperties: false,
          properties: {
            resources: {
              type: 'object',
              additionalProperties: { type: 'object', additionalProperties: false, properties: Object.fromEntries(permissionKeys.map((key) => [key, users])) },
            },
          },
        },
      },
    },
  } as Document;
}

/**
 * HubSpot's dated APIs (shared/hubspot-openapi/2026-03/). Several files describe the same path: objects.json and
 * associations.json hold the generic /crm/objects/2026-03/{objectType}/... operations that tickets.json, contacts.json
 * and notes.json also describe for their own object. The object's own file is checked first (the first spec with a
 * matching operation decides), the generic ones after it.
 */
const DATED_DIR = new URL('2026-03/', SPEC_DIR);
const GENERIC_DATED_SPECS = new Set(['objects.json', 'associations.json']);

function specsIn(directory: URL): Document[] {
  return readdirSync(directory)
    .filter((file) => file.endsWith('.json'))
    .sort((a, b) => Number(GENERIC_DATED_SPECS.has(a)) - Number(GENERIC_DATED_SPECS.has(b)))
    .map((file) => jsonForWildcards(JSON.parse(readFileSync(new URL(file, directory), 'utf8'))) as Document);
}

let validators: Promise<OpenAPIBackend[]> | undefined;

function loadValidators(): Promise<OpenAPIBackend[]> {
  validators ??= Promise.all(
    [...specsIn(DATED_DIR), ...specsIn(SPEC_DIR), permissionsFromProse()].map(async (definition) => {
      // quick: HubSpot's published files fail the OpenAPI meta-schema on nits (e.g. `example: null` beside `$ref`),
      // which would make openapi-backend drop the document; quick mode skips that check and dereferences in place.
      const api = new OpenAPIBackend({
        definition,
        strict: false,
        quick: true,
        ajvOpts: { strict: false },
        // date-time, uuid, int32 and int64 are checked, not ignored.
        customizeAjv: (ajv) => {
          // ajv-formats is CommonJS: under NodeNext the callable plugin is its `default` export.
          addFormats.default(ajv);
          return ajv;
        },
      });
      await api.init();
      return api;
    }),
  );
  return validators;
}

/** Violations from every fake in this process (test file); test/support/contract-setup.ts fails the file on any. */
export const violationRegistry: ContractViolation[] = [];

export async function checkResponse(input: { method: string; url: string; status: number; body: unknown }): Promise<ContractViolation | undefined> {
  const path = input.url.split('?')[0] ?? input.url;
  if (UNSPECIFIED_PATHS.some((entry) => entry.pattern.test(path))) return undefined;
  for (const api of await loadValidators()) {
    const operation = api.matchOperation({ method: input.method.toLowerCase(), path, headers: {} });
    if (operation === undefined) continue;
    const hasValidator = operation.responses !== undefined && (String(input.status) in operation.responses || 'default' in operation.responses);
    if (!hasValidator) {
      return { method: input.method, url: input.url, status: input.status, errors: [`status ${input.status} is not described for ${operation.operationId}`] };
    }
    // A status described without content (DELETE /appinstalls/2026-03/external-install's 204) must come without a body;
    // openapi-backend would validate it against the other statuses' schemas instead.
    const described = operation.responses?.[String(input.status)];
    if (described !== undefined && !('$ref' in described) && Object.keys(described.content ?? {}).length === 0) {
      if (input.body === null) return undefined;
      return { method: input.method, url: input.url, status: input.status, errors: [`status ${input.status} has no body in ${operation.operationId}`] };
    }
    const result = api.validateResponse(input.body, operation, input.status);
    if (result.valid) return undefined;
    return {
      method: input.method,
      url: input.url,
      status: input.status,
      errors: (result.errors ?? []).map((error) => `${error.instancePath || '(body)'} ${error.message ?? 'is invalid'}`),
    };
  }
  return { method: input.method, url: input.url, status: input.status, errors: ['no operation in any published spec matches this path'] };
}
