/** Pieces the admin API's OpenAPI document is built from (src/admin/openapi.ts, openapiDevtools.ts). */

export const num = { type: 'number' } as const;
export const int = { type: 'integer', minimum: 0 } as const;
export const nullableNum = { type: ['number', 'null'] } as const;
export const str = { type: 'string' } as const;

/** A JSON answer of schema `schema` (in components). */
export const json = (schema: string, description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
});

/** The `{id}` path parameter. */
export const idParam = (description: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description,
});
