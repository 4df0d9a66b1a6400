import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadRules, parseRules, RulesError } from '../../src/intercept/rules.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

const EXAMPLE = `
rules:
  - name: mock-weather
    match: { method: tools/call, tool: get_weather, arguments: { city: Paris } }
    action: { mock: { result: { content: [{ type: text, text: sunny }] } } }
  - name: slow
    match: { any: [ { tool: search }, { path: "$.params.arguments.q", matches: "^x" } ] }
    action: { delay: 500ms..1500ms }
    times: 3
`;

describe('the rules file', () => {
  it('docs/rules.schema.json is what the zod schema makes (npm run docs:rules-schema)', async () => {
    await expect(
      run(process.execPath, ['scripts/rules-schema.mjs', '--check'], { cwd: root }),
    ).resolves.toBeDefined();
  });

  it('the JSON Schema accepts what the validator accepts, and flags a misspelt action', () => {
    const schema = JSON.parse(readFileSync(`${root}/docs/rules.schema.json`, 'utf8')) as object;
    const validate = new Ajv2020({ strict: false }).compile(schema);
    expect(parseRules(EXAMPLE)).toHaveLength(2);
    expect(validate(parseYaml(EXAMPLE))).toBe(true);
    const typo = 'rules:\n  - name: t\n    action: { mokc: {} }\n';
    expect(validate(parseYaml(typo))).toBe(false);
    expect(() => parseRules(typo, 'f.yaml')).toThrow(RulesError);
  });

  it('examples/rules.yaml (README runs it) is valid', () => {
    expect(loadRules(`${root}/examples/rules.yaml`).map((r) => r.name)).toEqual([
      'mock-weather',
      'no-crash',
      'slow-add',
      'shout',
    ]);
  });

  it('names the rule, the key and what was expected', () => {
    try {
      parseRules(
        'rules:\n  - name: a\n    action: { delay: soon }\n  - name: b\n    action: { drop: true, mock: { result: 1 } }\n',
        'f.yaml',
      );
      expect.unreachable();
    } catch (err) {
      expect((err as RulesError).problems).toEqual([
        'rule "a" (#1), action.delay: expected a duration such as 800ms, 2s or 500ms..1500ms, got "soon"',
        'rule "b" (#2), action: expected exactly one of mock, error, delay, patch, drop, fault, break',
      ]);
    }
  });

  it('refuses a name used twice', () => {
    expect(() =>
      parseRules(
        'rules:\n  - { name: a, action: { drop: true } }\n  - { name: a, action: { drop: true } }\n',
      ),
    ).toThrow(/rule "a" \(#2\), name: the name "a" is used twice/);
  });
});
