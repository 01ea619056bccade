// The peer re-sends its own consensus messages while a height is stuck (node/peer/own-messages.ts).
import { describe, expect, it } from 'vitest';
import type { ConsensusMessage } from '../../src/consensus/index.js';
import { OWN_PROPOSALS_KEPT_MAX, OWN_VOTES_KEPT_MAX, OwnMessages } from '../../node/peer/own-messages.js';

const vote = (height: number, round: number, type: 'prevote' | 'precommit' = 'prevote'): ConsensusMessage => ({
  type,
  height,
  round,
  valueId: null,
  validator: 0,
  signature: new Uint8Array(64),
});
const proposal = (height: number, round: number): ConsensusMessage => ({
  type: 'proposal',
  height,
  round,
  value: new Uint8Array([round]),
  validRound: -1,
  validator: 0,
  signature: new Uint8Array(64),
});
const tag = (h: number, r: number, kind: string) => new TextEncoder().encode(`${kind}/${h}/${r}`);
const text = (bs: Uint8Array[]) => bs.map((b) => new TextDecoder().decode(b));

describe('own messages kept for re-sending', () => {
  it('re-sends the prevote of a polka round far below the current round (paper L28 needs it), but only recent proposals', () => {
    const own = new OwnMessages();
    for (let r = 0; r <= 40; r++) {
      own.remember(proposal(5, r), tag(5, r, 'proposal'));
      own.remember(vote(5, r), tag(5, r, 'prevote'));
      own.remember(vote(5, r, 'precommit'), tag(5, r, 'precommit'));
    }
    const out = text(own.forResend(40));
    expect(out).toContain('prevote/5/3'); // a polka 37 rounds back is still re-sent
    expect(out).toContain('prevote/5/40');
    expect(out).toContain('proposal/5/40');
    expect(out).toContain('proposal/5/39');
    expect(out).not.toContain('proposal/5/38'); // whole blocks: only this and the previous round
    expect(own.height).toBe(5);
  });

  it('a new height drops the previous height’s messages', () => {
    const own = new OwnMessages();
    own.remember(vote(5, 0), tag(5, 0, 'prevote'));
    own.remember(vote(6, 0), tag(6, 0, 'prevote'));
    expect(text(own.forResend(0))).toEqual(['prevote/6/0']);
    expect(own.height).toBe(6);
  });

  it('is bounded: at most OWN_VOTES_KEPT_MAX votes and OWN_PROPOSALS_KEPT_MAX proposals, oldest dropped first', () => {
    const own = new OwnMessages();
    for (let r = 0; r < OWN_VOTES_KEPT_MAX + 10; r++) own.remember(vote(1, r), tag(1, r, 'prevote'));
    for (let i = 0; i < OWN_PROPOSALS_KEPT_MAX + 3; i++) own.remember(proposal(1, 1_000), tag(1, i, 'proposal'));
    const out = text(own.forResend(1_000));
    expect(out.filter((s) => s.startsWith('prevote/')).length).toBe(OWN_VOTES_KEPT_MAX);
    expect(out.filter((s) => s.startsWith('proposal/')).length).toBe(OWN_PROPOSALS_KEPT_MAX);
    expect(out).not.toContain('prevote/1/0');
    expect(out).toContain(`prevote/1/${OWN_VOTES_KEPT_MAX + 9}`);
  });
});
