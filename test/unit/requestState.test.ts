import { describe, expect, it } from 'vitest';
import { RequestStateCodec, type BridgeState } from '../../src/bridge/requestState.js';

const state: BridgeState = {
  session: 's1',
  call: 7,
  round: 1,
  method: 'tools/call',
  target: 'confirm',
  expires: Date.now() + 60_000,
};

describe('RequestStateCodec', () => {
  it('verifies what it signed', () => {
    const codec = new RequestStateCodec();
    expect(codec.verify(codec.sign(state))).toEqual(state);
  });

  it('refuses an altered payload, an altered signature, another key, an expired state and junk', () => {
    const codec = new RequestStateCodec();
    const token = codec.sign(state);
    const [head, payload, mac] = token.split('.') as [string, string, string];
    const altered = Buffer.from(
      Buffer.from(payload, 'base64url').toString().replace('"call":7', '"call":8'),
    ).toString('base64url');
    expect(codec.verify(`${head}.${altered}.${mac}`)).toMatch(/signature does not match/);
    expect(codec.verify(`${head}.${payload}.${mac.slice(1)}x`)).toMatch(/signature does not match/);
    expect(new RequestStateCodec().verify(token)).toMatch(/signature does not match/);
    expect(codec.verify(codec.sign({ ...state, expires: Date.now() - 1 }))).toBe('requestState has expired');
    expect(codec.verify('v1.abc.def')).toMatch(/not issued by mcpscope/);
    expect(codec.verify(42)).toMatch(/not a string/);
  });
});
