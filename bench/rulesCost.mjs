#!/usr/bin/env node
// What 20 interception rules that match nothing cost one message, measured on the stage alone (the
// whole-proxy row of `npm run bench` is within its noise): `node bench/rulesCost.mjs` after `npm run build`.
import { parseFrame } from '../dist/jsonrpc/framing.js';
import { silentLogger } from '../dist/log.js';
import { InterceptStage } from '../dist/stages/interceptStage.js';
import { writeRules20 } from './rules20.mjs';

const file = writeRules20();
const stage = new InterceptStage({
  file,
  watch: false,
  upstreamName: 'bench',
  metrics: null,
  logger: silentLogger(),
  holdTimeoutMs: 30_000,
});
const session = { id: 's', clientInfo: { name: 'bench' } };
const messages = [
  parseFrame(
    Buffer.from(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"}}}',
    ),
    1e9,
  ),
  parseFrame(Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"x"}]}}'), 1e9),
];
const N = 2_000_000;
for (const [label, frame, direction] of [
  ['a tools/call request', messages[0], 'client-to-server'],
  ['its answer', messages[1], 'server-to-client'],
]) {
  for (let i = 0; i < 200_000; i++) stage.transform(frame, session, direction);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) stage.transform(frame, session, direction);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${label}: ${ns.toFixed(0)} ns per message through 20 rules that do not match`);
}
stage.close();
