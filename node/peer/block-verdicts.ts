// What the ledger remembers about the proposals it checked at the current head: the consensus
// isValid verdict by block hash (the driver's isValid is synchronous, so it reads this cache), and
// our own passed proposal-mode validations, which applying that block as decided reuses instead
// of validating it again on the path between two heights. Everything here is of one head:
// `clear()` when the head moves (validations are also tied to the head object they were made on).
import type { ValidatedBlock } from './block-validate.js';

/** Most block verdicts cached (one per distinct proposal value). */
export const VERDICTS_MAX = 256;
/** Full validation results kept for apply (one proposal per round; usually one per head). */
export const VALIDATED_KEPT_MAX = 2;

export class BlockVerdicts {
  private readonly verdicts = new Map<string, boolean>();
  private validated = new Map<string, ValidatedBlock>();
  private validatedHead: object | null = null;

  /** The verdict for a block hash (hex); undefined = never validated at this head. */
  get(key: string): boolean | undefined {
    return this.verdicts.get(key);
  }

  set(key: string, ok: boolean): void {
    if (this.verdicts.size >= VERDICTS_MAX) {
      const oldest = this.verdicts.keys().next().value;
      if (oldest !== undefined) this.verdicts.delete(oldest);
    }
    this.verdicts.set(key, ok);
  }

  /** Keeps a passed proposal-mode validation made against `head`. */
  keep(head: object, key: string, v: ValidatedBlock): void {
    if (this.validatedHead !== head) {
      this.validatedHead = head;
      this.validated = new Map();
    }
    if (this.validated.size >= VALIDATED_KEPT_MAX) this.validated.delete(this.validated.keys().next().value!);
    this.validated.set(key, v);
  }

  /** The kept validation of `key` made against this very `head` (taken once), if any. */
  take(head: object, key: string): ValidatedBlock | undefined {
    const kept = this.validatedHead === head ? this.validated.get(key) : undefined;
    this.validated.delete(key);
    return kept;
  }

  /** The head moved: nothing here holds any more. */
  clear(): void {
    this.verdicts.clear();
    this.validated = new Map();
    this.validatedHead = null;
  }
}
