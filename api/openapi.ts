// The API's own OpenAPI document (served at /openapi.json, rendered at /docs, the source of the
// generated SDK in sdk/). The /api/v1/pins part follows the IPFS Pinning Service API v1.0.0:
// same paths, parameters, schemas, status codes and Failure body.

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` })
const json = (schema: unknown): Record<string, unknown> => ({ 'application/json': { schema } })
const failure = (description: string): Record<string, unknown> => ({ description, content: json(ref('Failure')) })

/** Error answers every authenticated operation may give. */
const ERRORS = {
  400: { $ref: '#/components/responses/BadRequest' },
  401: { $ref: '#/components/responses/Unauthorized' },
  404: { $ref: '#/components/responses/NotFound' },
  '4XX': { $ref: '#/components/responses/CustomServiceError' },
  '5XX': { $ref: '#/components/responses/InternalServerError' }
}

const NAME_PARAM = { name: 'name', in: 'path', required: true, description: 'Model name', schema: { type: 'string', pattern: '^[a-z0-9]([a-z0-9._-]{0,126}[a-z0-9])?$' } }
const VERSION_PARAM = { name: 'version', in: 'path', required: true, description: 'Model version (immutable)', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,126}$' } }
const TAG_PARAM = { name: 'tag', in: 'path', required: true, description: 'Tag (moves between versions)', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,126}$' } }
const PAGING = [
  { name: 'limit', in: 'query', required: false, description: 'Items per page', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
  { name: 'after', in: 'query', required: false, description: 'The `next` value of the previous page', schema: { type: 'string', maxLength: 128 } }
]

export const OPENAPI = {
  openapi: '3.0.3',
  info: {
    title: 'ipfs-csi API',
    version: '1.0.0',
    description: 'The IPFS Pinning Service API v1.0.0 (under /api/v1) for Kubernetes service accounts, API tokens per device, and the model index. Authenticate with `Authorization: Bearer <token>`: a projected service-account token or an API token made from one.',
    license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' }
  },
  servers: [{ url: '/', description: 'this API' }],
  tags: [
    { name: 'pins', description: 'IPFS Pinning Service API v1.0.0' },
    { name: 'tokens', description: 'API tokens per device' },
    { name: 'models', description: 'The model index' },
    { name: 'meta', description: 'Health and documentation' }
  ],
  security: [{ accessToken: [] }],
  paths: {
    '/api/v1/pins': {
      get: {
        operationId: 'getPins',
        summary: 'List pin objects',
        description: 'Pin requests of the caller\'s namespace matching the filters, newest first; with no status filter only pinned ones.',
        tags: ['pins'],
        parameters: ['cid', 'name', 'match', 'status', 'before', 'after', 'limit', 'meta'].map(p => ({ $ref: `#/components/parameters/${p}` })),
        responses: { 200: { description: 'Successful response (PinResults object)', content: json(ref('PinResults')) }, 409: { $ref: '#/components/responses/InsufficientFunds' }, ...ERRORS }
      },
      post: {
        operationId: 'addPin',
        summary: 'Add pin object',
        description: 'Add a new pin object for the caller\'s namespace (scope pins:write).',
        tags: ['pins'],
        requestBody: { required: true, content: json(ref('Pin')) },
        responses: { 202: { description: 'Successful response (PinStatus object)', content: json(ref('PinStatus')) }, 409: { $ref: '#/components/responses/InsufficientFunds' }, ...ERRORS }
      }
    },
    '/api/v1/pins/{requestid}': {
      parameters: [{ name: 'requestid', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        operationId: 'getPinByRequestId',
        summary: 'Get pin object',
        description: 'Get a pin object and its status (404 for another namespace\'s).',
        tags: ['pins'],
        responses: { 200: { description: 'Successful response (PinStatus object)', content: json(ref('PinStatus')) }, 409: { $ref: '#/components/responses/InsufficientFunds' }, ...ERRORS }
      },
      post: {
        operationId: 'replacePinByRequestId',
        summary: 'Replace pin object',
        description: 'Replace an existing pin object: the old one is removed once the new one is pinned, so blocks both share are never garbage-collected in between.',
        tags: ['pins'],
        requestBody: { required: true, content: json(ref('Pin')) },
        responses: { 202: { description: 'Successful response (PinStatus object)', content: json(ref('PinStatus')) }, 409: { $ref: '#/components/responses/InsufficientFunds' }, ...ERRORS }
      },
      delete: {
        operationId: 'deletePinByRequestId',
        summary: 'Remove pin object',
        description: 'Remove a pin object.',
        tags: ['pins'],
        responses: { 202: { description: 'Successful response (no body, pin removed)' }, 409: { $ref: '#/components/responses/InsufficientFunds' }, ...ERRORS }
      }
    },
    '/v1/tokens': {
      post: {
        operationId: 'createToken',
        summary: 'Exchange a service-account token for an API token',
        description: 'Only a service-account token (not an API token) may make API tokens. The token is shown once.',
        tags: ['tokens'],
        requestBody: { required: true, content: json(ref('NewTokenRequest')) },
        responses: { 201: { description: 'The new token', content: json(ref('NewToken')) }, 403: { $ref: '#/components/responses/Forbidden' }, ...ERRORS }
      },
      get: {
        operationId: 'listTokens',
        summary: 'List the namespace\'s API tokens (never their secrets)',
        tags: ['tokens'],
        responses: { 200: { description: 'Tokens', content: json({ type: 'object', required: ['results'], properties: { results: { type: 'array', items: ref('ApiToken') } } }) }, ...ERRORS }
      }
    },
    '/v1/tokens/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{16}$' } }],
      delete: {
        operationId: 'revokeToken',
        summary: 'Revoke an API token of the namespace',
        tags: ['tokens'],
        responses: { 204: { description: 'Revoked' }, ...ERRORS }
      }
    },
    '/v1/models': {
      get: {
        operationId: 'listModels',
        summary: 'List models',
        tags: ['models'],
        parameters: PAGING,
        responses: { 200: { description: 'A page of models', content: json(ref('ModelPage')) }, ...ERRORS }
      }
    },
    '/v1/models/{name}': {
      parameters: [NAME_PARAM],
      get: {
        operationId: 'getModel',
        summary: 'A model: its tags and a page of its versions',
        tags: ['models'],
        parameters: PAGING,
        responses: { 200: { description: 'The model', content: json(ref('Model')) }, ...ERRORS }
      }
    },
    '/v1/models/{name}/versions/{version}': {
      parameters: [NAME_PARAM, VERSION_PARAM],
      get: {
        operationId: 'getModelVersion',
        summary: 'A version\'s manifest',
        tags: ['models'],
        responses: { 200: { description: 'The version', content: json(ref('ModelVersion')) }, ...ERRORS }
      },
      put: {
        operationId: 'putModelVersion',
        summary: 'Index a version: walk the DAG and record every file with its SHA-256',
        description: 'Scope models:write. A version never changes: the same CID again answers 200, another CID 409.',
        tags: ['models'],
        requestBody: { required: true, content: json(ref('NewModelVersion')) },
        responses: {
          200: { description: 'Already indexed with this CID', content: json(ref('ModelVersion')) },
          201: { description: 'Indexed', content: json(ref('ModelVersion')) },
          403: { $ref: '#/components/responses/Forbidden' },
          409: failure('The version exists with another CID'),
          ...ERRORS
        }
      }
    },
    '/v1/models/{name}/tags/{tag}': {
      parameters: [NAME_PARAM, TAG_PARAM],
      get: {
        operationId: 'getModelTag',
        summary: 'The version a tag points at',
        tags: ['models'],
        responses: { 200: { description: 'The version', content: json(ref('ModelVersion')) }, ...ERRORS }
      },
      put: {
        operationId: 'putModelTag',
        summary: 'Move a tag to a version',
        tags: ['models'],
        requestBody: { required: true, content: json({ type: 'object', required: ['version'], additionalProperties: false, properties: { version: { type: 'string' } } }) },
        responses: { 200: { description: 'Moved', content: json(ref('Tag')) }, 403: { $ref: '#/components/responses/Forbidden' }, ...ERRORS }
      }
    },
    '/healthz': {
      get: {
        operationId: 'health',
        summary: 'Liveness (never rate limited)',
        tags: ['meta'],
        security: [],
        responses: { 200: { description: 'Up', content: json({ type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }) }, '4XX': { $ref: '#/components/responses/CustomServiceError' } }
      }
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document',
        tags: ['meta'],
        security: [],
        responses: { 200: { description: 'OpenAPI 3.0 document', content: json({ type: 'object' }) }, '4XX': { $ref: '#/components/responses/CustomServiceError' } }
      }
    },
    '/docs': {
      get: {
        operationId: 'docs',
        summary: 'This document as HTML',
        tags: ['meta'],
        security: [],
        responses: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } }, '4XX': { $ref: '#/components/responses/CustomServiceError' } }
      }
    }
  },
  components: {
    securitySchemes: {
      accessToken: { type: 'http', scheme: 'bearer', description: 'A projected service-account token (audience --audience) or an API token (ipfscsi_...).' }
    },
    parameters: {
      cid: { name: 'cid', in: 'query', required: false, description: 'Return pin objects for the specified CID(s)', schema: { type: 'array', items: { type: 'string' }, uniqueItems: true, minItems: 1, maxItems: 10 }, style: 'form', explode: false },
      name: { name: 'name', in: 'query', required: false, description: 'Return pin objects with the specified name (exact, case-sensitive by default)', schema: { type: 'string', maxLength: 255 } },
      match: { name: 'match', in: 'query', required: false, description: 'Text matching strategy of the name filter', schema: ref('TextMatchingStrategy') },
      status: { name: 'status', in: 'query', required: false, description: 'Return pin objects with the specified statuses (default: pinned)', schema: { type: 'array', items: ref('Status'), uniqueItems: true, minItems: 1 }, style: 'form', explode: false },
      before: { name: 'before', in: 'query', required: false, description: 'Return results created before this time', schema: { type: 'string', format: 'date-time' } },
      after: { name: 'after', in: 'query', required: false, description: 'Return results created after this time', schema: { type: 'string', format: 'date-time' } },
      limit: { name: 'limit', in: 'query', required: false, description: 'Max records to return', schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 1000, default: 10 } },
      meta: { name: 'meta', in: 'query', required: false, description: 'Return pin objects whose meta has all these key/value pairs (a JSON object)', content: json(ref('PinMeta')) }
    },
    responses: {
      BadRequest: failure('Error response (Bad request)'),
      Unauthorized: failure('Error response (Unauthorized; access token is missing or invalid)'),
      Forbidden: failure('Error response (the identity lacks the scope)'),
      NotFound: failure('Error response (The specified resource was not found)'),
      InsufficientFunds: failure('Error response (Insufficient funds; never given by this service)'),
      CustomServiceError: failure('Error response (Custom service error: 405, 413, 429 with Retry-After, ...)'),
      InternalServerError: failure('Error response (Unexpected internal server error; 503 with Retry-After when overloaded)')
    },
    schemas: {
      PinResults: {
        description: 'Response used for listing pin objects matching request',
        type: 'object',
        required: ['count', 'results'],
        properties: {
          count: { description: 'The total number of pin objects that exist for passed query filters', type: 'integer', format: 'int32', minimum: 0 },
          results: { description: 'An array of PinStatus results', type: 'array', items: ref('PinStatus'), uniqueItems: true, minItems: 0, maxItems: 1000 }
        }
      },
      PinStatus: {
        description: 'Pin object with status',
        type: 'object',
        required: ['requestid', 'status', 'created', 'pin', 'delegates'],
        properties: {
          requestid: { description: 'Globally unique identifier of the pin request', type: 'string' },
          status: ref('Status'),
          created: { description: 'Immutable timestamp indicating when a pin request entered the service', type: 'string', format: 'date-time' },
          pin: ref('Pin'),
          delegates: ref('Delegates'),
          info: ref('StatusInfo')
        }
      },
      Pin: {
        description: 'Pin object',
        type: 'object',
        required: ['cid'],
        properties: {
          cid: { description: 'Content Identifier (CID) to be pinned recursively', type: 'string' },
          name: { description: 'Optional name for pinned data', type: 'string', maxLength: 255 },
          origins: ref('Origins'),
          meta: ref('PinMeta')
        }
      },
      Status: { description: 'Status a pin object can have at a pinning service', type: 'string', enum: ['queued', 'pinning', 'pinned', 'failed'] },
      Delegates: { description: 'Multiaddrs of the service\'s Kubo that receive pin data', type: 'array', items: { type: 'string' }, uniqueItems: true, minItems: 1, maxItems: 20 },
      Origins: { description: 'Multiaddrs known to provide the data (each ends in /p2p/<peer id>)', type: 'array', items: { type: 'string' }, uniqueItems: true, minItems: 0, maxItems: 20 },
      PinMeta: { description: 'Optional metadata for pin object', type: 'object', additionalProperties: { type: 'string' }, maxProperties: 1000 },
      StatusInfo: { description: 'Optional info for PinStatus response (status_details on failure)', type: 'object', additionalProperties: { type: 'string' }, maxProperties: 1000 },
      TextMatchingStrategy: { description: 'Alternative text matching strategy', type: 'string', default: 'exact', enum: ['exact', 'iexact', 'partial', 'ipartial'] },
      Failure: {
        description: 'Response for a failed request',
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['reason'],
            properties: {
              reason: { type: 'string', description: 'Mandatory string identifying the type of error', example: 'BAD_REQUEST' },
              details: { type: 'string', description: 'Optional, longer description of the error' }
            }
          }
        }
      },
      Scope: { type: 'string', enum: ['pins:read', 'pins:write', 'models:write'] },
      NewTokenRequest: {
        type: 'object',
        required: ['device'],
        additionalProperties: false,
        properties: { device: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$' }, scopes: { type: 'array', items: ref('Scope') } }
      },
      ApiToken: {
        type: 'object',
        required: ['id', 'device', 'subject', 'scopes', 'createdAt'],
        properties: { id: { type: 'string' }, device: { type: 'string' }, subject: { type: 'string' }, scopes: { type: 'array', items: ref('Scope') }, createdAt: { type: 'string', format: 'date-time' } }
      },
      NewToken: {
        allOf: [ref('ApiToken'), { type: 'object', required: ['token'], properties: { token: { type: 'string', description: 'The bearer token; shown only here' } } }]
      },
      NewModelVersion: {
        type: 'object',
        required: ['cid'],
        additionalProperties: false,
        properties: {
          cid: { type: 'string' },
          annotations: { type: 'object', additionalProperties: { type: 'string' } },
          tags: { type: 'array', items: { type: 'string' }, maxItems: 16, description: 'Tags to move to this version' }
        }
      },
      ModelFile: {
        type: 'object',
        required: ['path', 'size', 'cid', 'sha256'],
        properties: { path: { type: 'string' }, size: { type: 'integer', minimum: 0 }, cid: { type: 'string' }, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } }
      },
      ModelVersion: {
        type: 'object',
        required: ['name', 'version', 'cid', 'totalSize', 'files', 'createdAt', 'annotations', 'record'],
        properties: {
          name: { type: 'string' },
          version: { type: 'string' },
          cid: { type: 'string' },
          totalSize: { type: 'integer', minimum: 0 },
          files: { type: 'array', items: ref('ModelFile') },
          createdAt: { type: 'string', format: 'date-time' },
          annotations: { type: 'object', additionalProperties: { type: 'string' } },
          record: { type: 'string', description: 'CID of the dag-json record in IPFS' }
        }
      },
      ModelPage: {
        type: 'object',
        required: ['results'],
        properties: {
          results: { type: 'array', items: { type: 'object', required: ['name', 'versions'], properties: { name: { type: 'string' }, versions: { type: 'integer' } } } },
          next: { type: 'string' }
        }
      },
      Model: {
        type: 'object',
        required: ['name', 'tags', 'versions'],
        properties: {
          name: { type: 'string' },
          tags: { type: 'object', additionalProperties: { type: 'string' } },
          versions: {
            type: 'object',
            required: ['results'],
            properties: {
              results: {
                type: 'array',
                items: { type: 'object', required: ['version', 'cid', 'totalSize', 'files', 'createdAt', 'record'], properties: { version: { type: 'string' }, cid: { type: 'string' }, totalSize: { type: 'integer' }, files: { type: 'integer' }, createdAt: { type: 'string', format: 'date-time' }, record: { type: 'string' } } }
              },
              next: { type: 'string' }
            }
          }
        }
      },
      Tag: { type: 'object', required: ['name', 'tag', 'version'], properties: { name: { type: 'string' }, tag: { type: 'string' }, version: { type: 'string' } } }
    }
  }
} as const

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)

/** /docs: the document rendered as plain HTML, no script at all. */
export function docsHtml (): string {
  const rows: string[] = []
  for (const [p, item] of Object.entries(OPENAPI.paths)) {
    for (const [method, op] of Object.entries(item as Record<string, unknown>)) {
      if (method === 'parameters') continue
      const o = op as { summary: string, description?: string, operationId: string, tags: string[], responses: Record<string, unknown>, parameters?: Array<{ name?: string, $ref?: string }> }
      const params = (o.parameters ?? []).map(x => x.name ?? x.$ref?.split('/').pop()).join(', ')
      rows.push(`<tr><td><code>${esc(method.toUpperCase())}</code></td><td><code>${esc(p)}</code></td><td><b>${esc(o.summary)}</b>${o.description !== undefined ? `<br>${esc(o.description)}` : ''}${params !== '' ? `<br><small>query: ${esc(params)}</small>` : ''}</td><td>${esc(Object.keys(o.responses).join(' '))}</td><td>${esc(o.tags.join(', '))}</td></tr>`)
    }
  }
  const schemas = Object.entries(OPENAPI.components.schemas).map(([name, s]) => `<h3 id="${esc(name)}">${esc(name)}</h3><pre>${esc(JSON.stringify(s, null, 2))}</pre>`).join('\n')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(OPENAPI.info.title)}</title>
<style>body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td{border-top:1px solid #ccc;padding:.4em;vertical-align:top}pre{background:#f6f6f6;padding:.5em;overflow:auto}</style></head>
<body><h1>${esc(OPENAPI.info.title)} ${esc(OPENAPI.info.version)}</h1><p>${esc(OPENAPI.info.description)}</p><p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
<table><tr><th>method</th><th>path</th><th>what</th><th>answers</th><th>tag</th></tr>${rows.join('\n')}</table><h2>Schemas</h2>${schemas}</body></html>`
}
