// Evidence records (two conflicting signed messages of one validator), stored once each in
// arrival order, at most limits.maxEvidenceRecords of them. Writes are synced.

import { sha256 } from '../../src/crypto/hash.js';
import { durableBatch } from './durable.js';
import { StoreError } from './errors.js';
import { P_EVIDENCE, P_EVIDENCE_HASH, bytesKey, prefixEnd, u64, u64Key, u64OfKey } from './keys.js';
import { checkBytes, checkLimit } from './store-args.js';
import { Serial, plain, type StoreContext } from './store-context.js';

export class EvidenceRecords {
  private readonly lock = new Serial();
  private nextEvidenceSeq = 0;

  constructor(private readonly ctx: StoreContext) {}

  /** Finds the next sequence number at open. */
  async load(): Promise<void> {
    const lastEvidence = await this.ctx.db.keys({ gte: u64Key(P_EVIDENCE, 0), lt: prefixEnd(P_EVIDENCE), reverse: true, limit: 1 }).all();
    this.nextEvidenceSeq = lastEvidence.length === 0 ? 0 : u64OfKey(lastEvidence[0]!) + 1;
  }

  async put(e: Uint8Array): Promise<void> {
    this.ctx.assertOpen();
    checkBytes('evidence', e, this.ctx.limits.maxEvidenceBytes, 'maxEvidenceBytes', 1);
    return this.lock.run(async () => {
      this.ctx.assertOpen();
      const hashKey = bytesKey(P_EVIDENCE_HASH, sha256(e));
      if ((await this.ctx.db.get(hashKey)) !== undefined) return;
      if (this.nextEvidenceSeq >= this.ctx.limits.maxEvidenceRecords) {
        throw new StoreError('EVIDENCE_FULL', `the store holds maxEvidenceRecords = ${this.ctx.limits.maxEvidenceRecords} evidence records`);
      }
      const seq = this.nextEvidenceSeq;
      await durableBatch(this.ctx.db, [
        { type: 'put', key: u64Key(P_EVIDENCE, seq), value: e },
        { type: 'put', key: hashKey, value: u64(seq) },
      ]);
      this.nextEvidenceSeq = seq + 1;
    });
  }

  async list(limit: number): Promise<Uint8Array[]> {
    this.ctx.assertOpen();
    checkLimit('limit', limit, this.ctx.limits.maxListEvidence, 'maxListEvidence');
    if (limit === 0) return [];
    const values = await this.ctx.db.values({ gte: u64Key(P_EVIDENCE, 0), lt: prefixEnd(P_EVIDENCE), limit }).all();
    return values.map(plain);
  }

  /** Resolves once the writes queued before it are done. */
  drain(): Promise<void> {
    return this.lock.run(async () => undefined);
  }
}
