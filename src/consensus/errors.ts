// Errors for programming mistakes in the consensus layer (bad arguments from our own code, e.g.
// building sign-bytes for a negative height). Untrusted input never throws: decoders and the
// driver return results / `rejected` effects with a machine-readable code instead.

export class ConsensusError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = 'ConsensusError';
    this.code = code;
  }
}
