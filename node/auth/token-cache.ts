// Verified bearer tokens, remembered until they expire, so that a tool sending the same token on
// every request (Prometheus, a tlog client, a load generator) costs one signature verification
// per token, not one per request. Only tokens that verified enter, so a caller cannot fill it
// with junk; it is bounded in count and in characters anyway, least recently used evicted.
// Safe because a policy never changes under an AccessControl (a new policy means a new instance
// and a new cache) and a cached principal is never used at or after its expiry.
import type { Principal } from './types.js';

export class TokenCache {
  private readonly map = new Map<string, Principal>();
  private chars = 0;

  constructor(readonly entriesMax = 10_000, readonly charsMax = 8 * 1024 * 1024) {}

  get size(): number {
    return this.map.size;
  }

  get(token: string, nowMs: number): Principal | undefined {
    const p = this.map.get(token);
    if (p === undefined) return undefined;
    this.map.delete(token);
    if (p.expiresAt === undefined || p.expiresAt <= nowMs) {
      this.chars -= token.length;
      return undefined;
    }
    this.map.set(token, p);
    return p;
  }

  set(token: string, p: Principal): void {
    if (p.expiresAt === undefined || token.length > this.charsMax / 16) return;
    const old = this.map.get(token);
    if (old !== undefined) {
      this.map.delete(token);
      this.chars -= token.length;
    }
    while (this.map.size >= this.entriesMax || this.chars + token.length > this.charsMax) {
      const oldest = this.map.keys().next().value as string | undefined;
      if (oldest === undefined) break;
      this.map.delete(oldest);
      this.chars -= oldest.length;
    }
    this.map.set(token, p);
    this.chars += token.length;
  }
}
