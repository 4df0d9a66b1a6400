// The admin API's own OpenAPI document (/openapi.json) as a test oracle: an answer validates against the
// schema the document names for it.
import { expect } from 'vitest';

export type SchemaCheck = (body: unknown, schema: string, label: string) => void;

/** Read `${admin}/openapi.json` and return a checker of bodies against its component schemas. */
export async function openApiChecker(
  admin: string,
  headers: Record<string, string> = {},
): Promise<SchemaCheck> {
  const { Ajv2020 } = await import('ajv/dist/2020.js');
  const doc = (await (await fetch(`${admin}/openapi.json`, { headers })).json()) as { components: object };
  // Formats such as date-time are not checked (ajv-formats is not a dependency): say nothing of them.
  const ajv = new Ajv2020({ strict: false, logger: false });
  ajv.addSchema({ $id: 'mcpscope', components: doc.components });
  return (body, schema, label) => {
    const validate = ajv.getSchema(`mcpscope#/components/schemas/${schema}`);
    if (!validate) throw new Error(`no schema ${schema}`);
    expect(validate(body) ? [] : validate.errors, `${label} against ${schema}`).toEqual([]);
  };
}
