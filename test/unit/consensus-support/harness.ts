// Test harness for the consensus driver: real Ed25519 (node:crypto) keys for n validators,
// helpers to hand-make signed messages and to pick effects out of a driver's output.
import { nodeSigner, nodeVerifier } from '../../../src/crypto/node.js';
import { sha256 } from '../../../src/crypto/hash.js';
import type { Ed25519Signer } from '../../../src/crypto/types.js';
import { utf8 } from '../../../src/encoding/bytes.js';
import { ConsensusDriver } from '../../../src/consensus/driver.js';
import { proposalSignBytes, voteSignBytes } from '../../../src/consensus/sign-bytes.js';
import type { ConsensusConfig, Effect, Proposal, SignerState, Step, Validator, Vote } from '../../../src/consensus/types.js';

export const CHAIN = 'cairn.test/consensus';

export const TIMEOUTS = { proposeMs: 1000, prevoteMs: 500, precommitMs: 500, deltaMs: 100 };

export interface Net {
  n: number;
  validators: Validator[];
  signers: Ed25519Signer[];
  cfg(self: number | null, over?: Partial<ConsensusConfig>): ConsensusConfig;
  driver(self: number | null, over?: Partial<ConsensusConfig>, restored?: SignerState): ConsensusDriver;
  proposal(from: number, h: number, r: number, value: Uint8Array, validRound?: number, chainId?: string): Proposal;
  vote(from: number, type: 'prevote' | 'precommit', h: number, r: number, valueId: Uint8Array | null, chainId?: string): Vote;
}

function seed(i: number): Uint8Array {
  return new Uint8Array(32).fill(i + 1);
}

export function makeNet(n = 4): Net {
  const signers = Array.from({ length: n }, (_, i) => nodeSigner(seed(i)));
  const validators = signers.map((s, i) => ({ name: `org${i}`, publicKey: s.publicKey }));
  const cfg = (self: number | null, over: Partial<ConsensusConfig> = {}): ConsensusConfig => ({
    chainId: CHAIN,
    validators,
    selfIndex: self,
    signer: self === null ? null : signers[self]!,
    verifier: nodeVerifier,
    getValue: (h, r) => utf8(`block h=${h} r=${r} by ${self}`),
    isValid: () => true,
    timeouts: TIMEOUTS,
    ...over,
  });
  return {
    n,
    validators,
    signers,
    cfg,
    driver: (self, over, restored) => new ConsensusDriver(cfg(self, over), restored),
    proposal(from, h, r, value, validRound = -1, chainId = CHAIN) {
      const signature = signers[from]!.sign(proposalSignBytes(chainId, h, r, sha256(value), validRound));
      return { type: 'proposal', height: h, round: r, value, validRound, validator: from, signature };
    },
    vote(from, type, h, r, valueId, chainId = CHAIN) {
      const signature = signers[from]!.sign(voteSignBytes(chainId, type, h, r, valueId));
      return { type, height: h, round: r, valueId, validator: from, signature };
    },
  };
}

export function id(value: Uint8Array): Uint8Array {
  return sha256(value);
}

/** Feeds messages one by one and returns all effects. */
export function feed(d: ConsensusDriver, ...msgs: (Proposal | Vote)[]): Effect[] {
  const out: Effect[] = [];
  for (const m of msgs) out.push(...d.handle({ kind: 'message', message: m }));
  return out;
}

export function broadcasts(effects: Effect[]): (Proposal | Vote)[] {
  return effects.flatMap((e) => (e.kind === 'broadcast' ? [e.message] : []));
}

export function votesOf(effects: Effect[], type: 'prevote' | 'precommit'): Vote[] {
  return broadcasts(effects).filter((m): m is Vote => m.type === type);
}

export function proposalsOf(effects: Effect[]): Proposal[] {
  return broadcasts(effects).filter((m): m is Proposal => m.type === 'proposal');
}

export function timeoutsOf(effects: Effect[], step?: Step): Extract<Effect, { kind: 'schedule-timeout' }>[] {
  return effects.filter((e): e is Extract<Effect, { kind: 'schedule-timeout' }> => e.kind === 'schedule-timeout' && (step === undefined || e.step === step));
}

export function decisionOf(effects: Effect[]): Extract<Effect, { kind: 'decide' }> | undefined {
  return effects.find((e): e is Extract<Effect, { kind: 'decide' }> => e.kind === 'decide');
}

export function rejectedOf(effects: Effect[]): Extract<Effect, { kind: 'rejected' }>[] {
  return effects.filter((e): e is Extract<Effect, { kind: 'rejected' }> => e.kind === 'rejected');
}

export function evidenceOf(effects: Effect[]): Extract<Effect, { kind: 'evidence' }>[] {
  return effects.filter((e): e is Extract<Effect, { kind: 'evidence' }> => e.kind === 'evidence');
}

/** Asserts every broadcast is immediately preceded by a persist effect; returns the persisted states. */
export function persistBeforeBroadcast(effects: Effect[]): boolean {
  for (let i = 0; i < effects.length; i++) {
    const e = effects[i]!;
    if (e.kind === 'broadcast' && !effects.slice(0, i).some((p) => p.kind === 'persist')) return false;
  }
  return true;
}
