// Types for compare.mjs (plain JavaScript so run.mjs needs no build step), for the unit tests.
export const SUCCESS: 'SUCCESS';
export const MISSING: 'MISSING';

export interface SuiteCheck {
  id: string;
  name: string;
  status: string;
  errorMessage?: string;
}
export interface CheckResult {
  status: string;
  name: string;
  errorMessage?: string;
}
/** scenario → check key → result */
export type RunChecks = Map<string, Map<string, CheckResult>>;
export interface Tally {
  success: number;
  failure: number;
}
export interface Regression {
  scenario: string;
  check: string;
  through: string;
  errorMessage?: string;
}
export interface Comparison {
  compared: number;
  scenarios: Array<{ scenario: string; direct: Tally; through: Tally; regressions: number }>;
  regressions: Regression[];
}
export interface KnownGap {
  comparison: string;
  scenario: string;
  check: string;
  reason: string;
}

export function readChecks(dir: string): RunChecks;
export function keyChecks(list: SuiteCheck[]): Map<string, CheckResult>;
export function tally(checks: Map<string, CheckResult> | undefined): Tally;
export function compareRuns(direct: RunChecks, through: RunChecks): Comparison;
export function parseKnownGaps(text: string, file?: string): KnownGap[];
export function applyKnownGaps(
  results: Map<string, Comparison & { direct: RunChecks; through: RunChecks }>,
  gaps: KnownGap[],
): {
  known: Array<Regression & { comparison: string; reason: string }>;
  unexpected: Array<Regression & { comparison: string }>;
  fixed: KnownGap[];
  unevaluated: KnownGap[];
};

/** scenario → check keys that passed, both sorted */
export type PassingChecks = Record<string, string[]>;
export interface FloorEntry {
  requirements: string;
  passed: number;
  scored: number;
  checks: PassingChecks;
}
export type BridgeFloor = Record<string, FloorEntry>;
export interface BelowFloor {
  scenario: string;
  check: string;
  status: string;
  errorMessage?: string;
}

export function passingChecks(run: RunChecks): PassingChecks;
export function score(run: RunChecks): { passed: number; scored: number };
export function floorEntry(requirements: string, run: RunChecks): FloorEntry;
export function raiseFloor(entry: FloorEntry | undefined, requirements: string, run: RunChecks): FloorEntry;
export function parseBridgeFloor(text: string, file?: string): BridgeFloor;
export function compareFloor(
  entry: FloorEntry | undefined,
  run: RunChecks,
): { below: BelowFloor[]; above: Array<{ scenario: string; check: string }> };
