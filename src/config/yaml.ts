import { createRequire } from 'node:module';

// The YAML parser is loaded by the first YAML file read, not with the modules that may read one: most runs
// never do. Required, not imported: the bundled command line (esbuild) sees `yaml` as the CommonJS module
// it is, where a dynamic import() would hand back its namespace wrapper instead.
const require = createRequire(import.meta.url);
let yaml: typeof import('yaml') | undefined;

/** Parse YAML text (JSON is YAML too); throws the parser's error, which names the line. */
export function parseYaml(text: string): unknown {
  yaml ??= require('yaml') as typeof import('yaml');
  return yaml.parse(text);
}
