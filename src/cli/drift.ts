import { Option } from 'commander';
import { McpscopeError } from '../jsonrpc/errors.js';
import {
  CHANGE_KINDS,
  compareOffers,
  countKinds,
  failing,
  NOUN,
  type Change,
  type ChangeKind,
  type DriftSubject,
  type Offer,
} from '../tape/drift.js';
import { offerOfTape, type TapeOffer } from '../tape/offer.js';
import { resolveTape } from '../tape/store.js';
import { readTape, type Tape } from '../tape/tapeReader.js';
import { safeJson, safeText } from './terminal.js';

/** What `tape diff` and `replay --against` print with `--json`, and what the text report is made from. */
export interface DriftReport {
  /** What was compared: a tape id, or the live server. */
  readonly before: string;
  readonly after: string;
  readonly changes: Change[];
  readonly counts: Record<ChangeKind, number>;
  /** Parts not compared (one side lacks them, a list never completed, a probe that went unanswered). */
  readonly notCompared: string[];
  readonly failOn: ChangeKind;
  /** No change of `failOn`'s kind or a more severe one. */
  readonly ok: boolean;
}

/** `--fail-on KIND`: shared by `tape diff` and `replay --against`. */
export function failOnOption(): Option {
  return new Option(
    '--fail-on <kind>',
    'exit 1 on changes of this kind or a more severe one: breaking, compatible (stricter) or info (any change)',
  )
    .choices([...CHANGE_KINDS])
    .default('breaking');
}

const ORDER: readonly DriftSubject[] = ['server', 'tool', 'prompt', 'resource', 'resourceTemplate'];

export function driftReport(
  before: string,
  after: string,
  changes: Change[],
  notCompared: string[],
  failOn: ChangeKind,
): DriftReport {
  return {
    before,
    after,
    changes,
    counts: countKinds(changes),
    notCompared,
    failOn,
    ok: failing(changes, failOn).length === 0,
  };
}

/**
 * The report for people: a summary line, then the changes grouped by what they are about (the server, each
 * tool, prompt, resource), most severe first. Names and messages quote the servers: printed through safeText.
 */
export function driftText(report: DriftReport, tty: boolean): string {
  const paint = (code: number, t: string): string => (tty ? `\u001b[${code}m${t}\u001b[0m` : t);
  const { breaking, compatible, info } = report.counts;
  const lines = [
    `drift from ${safeText(report.before)} to ${safeText(report.after)}: ` +
      (report.changes.length === 0
        ? 'no changes'
        : `${breaking} breaking, ${compatible} compatible, ${info} info`),
  ];
  const groups = new Map<string, Change[]>();
  const sorted = [...report.changes].sort(
    (x, y) =>
      ORDER.indexOf(x.subject) - ORDER.indexOf(y.subject) ||
      x.name.localeCompare(y.name) ||
      CHANGE_KINDS.indexOf(x.kind) - CHANGE_KINDS.indexOf(y.kind),
  );
  for (const c of sorted) {
    const key = `${NOUN[c.subject]} ${c.name}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const mark: Record<ChangeKind, string> = {
    breaking: paint(31, 'BREAKING  '),
    compatible: paint(33, 'compatible'),
    info: paint(2, 'info      '),
  };
  for (const [key, changes] of groups) {
    lines.push(`  ${safeText(key)}`);
    for (const c of changes) {
      const where = c.path ? paint(2, `  (${safeText(c.path)})`) : '';
      lines.push(`    ${mark[c.kind]}  ${safeText(c.message)}${where}`);
    }
  }
  for (const note of report.notCompared) lines.push(`  not compared: ${safeText(note)}`);
  return lines.join('\n');
}

/** Notes for the parts of a tape's offer that could not be read whole. */
function partialNotes(label: string, offer: TapeOffer): string[] {
  return offer.partial.map(
    (method) => `${method}: ${label} holds only some of its pages (the client did not follow nextCursor)`,
  );
}

function hasAny(offer: Offer): boolean {
  return Object.values(offer).some((part) => part !== undefined);
}

/**
 * What a tape says its server offers. A tape with no handshake or list answer at all is an error that says
 * how to record one that has.
 */
export function tapeOffer(tape: Tape): TapeOffer {
  const offer = offerOfTape(tape.events);
  if (!hasAny(offer.offer)) {
    throw new McpscopeError(
      'TAPE_NO_OFFER',
      `${tape.path} holds no answer that says what the server offers (initialize, server/discover, tools/list, ` +
        'prompts/list, resources/list or resources/templates/list); record a session whose client lists the ' +
        "server's tools (most clients call tools/list when they connect), e.g. mcpscope forward stdio --record ./tapes -- node server.js",
    );
  }
  return offer;
}

/** Hints for lists neither side holds: tools above all, which is what drift is mostly about. */
function missingToolsNote(before: Offer, after: Offer): string[] {
  if (before.tools !== undefined || after.tools !== undefined) return [];
  return [
    'tools/list: neither side holds a complete answer; record a session that lists tools to compare them',
  ];
}

/** `mcpscope tape diff A B`: compare what two tapes say their server offers. Resolves with the exit code. */
export async function diffCommand(
  first: string,
  second: string,
  opts: { dir: string; json: boolean; failOn: ChangeKind },
): Promise<number> {
  const [a, b] = await Promise.all([
    readTape(await resolveTape(first, opts.dir)),
    readTape(await resolveTape(second, opts.dir)),
  ]);
  const [oa, ob] = [tapeOffer(a), tapeOffer(b)];
  const result = compareOffers(oa.offer, ob.offer, [`tape ${a.header.id}`, `tape ${b.header.id}`]);
  const report = driftReport(
    a.header.id,
    b.header.id,
    result.changes,
    [
      ...partialNotes(`tape ${a.header.id}`, oa),
      ...partialNotes(`tape ${b.header.id}`, ob),
      ...result.notCompared,
      ...missingToolsNote(oa.offer, ob.offer),
    ],
    opts.failOn,
  );
  if (opts.json) console.log(safeJson(report, 2));
  else console.log(driftText(report, process.stdout.isTTY === true));
  return report.ok ? 0 : 1;
}
