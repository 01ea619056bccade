// Building, reading and describing governance records for `cairn gov ...` (gov.ts). The records
// and their rules are src/governance (docs/governance.md); this file only turns flags and files
// into records and says in words what a record will do and from when.
import { randomBytes } from 'node:crypto';
import { writeFile, rename } from 'node:fs/promises';
import { formatVerifierKey, parseSignerKey, parseVerifierKey } from '../../src/checkpoint/keys.js';
import { nodeSigner } from '../../src/crypto/node.js';
import { fromUtf8, toHex } from '../../src/encoding/bytes.js';
import {
  GOV_ACTIVATION_DELAY,
  GOV_PARAM_RANGES,
  GOV_RECORD_BYTES_MAX,
  govStatement,
  parseGovRecord,
  type GovRecord,
  type GovSig,
  type GovSigner,
  type ParsedGovRecord,
  type UnsignedGovRecord,
} from '../../src/governance/index.js';
import { failure, readFileBounded, resolvePath, usageError, type CliIo } from './io.js';

/** Largest key file read. */
const KEY_FILE_BYTES_MAX = 16 * 1024;
/** Largest proposal or ballot file read: a record and a little indentation. */
export const PROPOSAL_FILE_BYTES_MAX = 2 * GOV_RECORD_BYTES_MAX;

export interface OrgKey extends GovSigner {
  /** The C2SP verifier key string of this key (`<name>+<id>+<base64>`). */
  readonly verifierKey: string;
}

/** An organization's signing key: the `PRIVATE+KEY+<name>+...` file `cairn keygen` writes. */
export async function loadOrgKey(io: CliIo, path: string, flag: string): Promise<OrgKey> {
  const bytes = await readFileBounded(io, path, `${flag} key file`, KEY_FILE_BYTES_MAX, 'KEY_FILE_BYTES_MAX');
  let text: string;
  try {
    text = fromUtf8(bytes).trim();
  } catch {
    throw usageError(`${flag} ${path}: not UTF-8 text`);
  }
  const r = parseSignerKey(text);
  if (!r.ok) throw usageError(`${flag} ${path}: not an organization signing key (PRIVATE+KEY+<name>+..., as cairn keygen writes): ${r.message} [${r.code}]`);
  const signer = nodeSigner(r.key.seed);
  return { name: r.key.name, signer, verifierKey: formatVerifierKey(r.key.name, signer.publicKey) };
}

export function parseHeight(text: string, flag: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw usageError(`${flag} must be a block height (a decimal integer), got ${JSON.stringify(text.slice(0, 40))}`);
  }
  return Number(text);
}

/** A fresh nonce: two otherwise identical proposals are different records. */
export function freshNonce(): string {
  return `${Date.now().toString(36)}-${toHex(randomBytes(6))}`;
}

/** Checks a record as the peers will parse it (with a placeholder signature when it has none yet). */
export function checkRecordShape(record: UnsignedGovRecord | GovRecord, where: string): ParsedGovRecord {
  const sigs = (record as GovRecord).sigs ?? [];
  const { id } = govStatement(record);
  const placeholder: GovSig = { by: 'placeholder', key: 'ab'.repeat(32), proposal: id, sig: '00'.repeat(64) };
  const r = parseGovRecord({ v: record.v, type: record.type, body: record.body, sigs: sigs.length > 0 ? sigs : [placeholder] });
  if (!r.ok) throw usageError(`${where}: ${r.message} [${r.code}]`);
  return r.parsed;
}

/** Reads a proposal (a record, with or without ballots) from a file. */
export async function loadProposal(io: CliIo, path: string): Promise<{ record: GovRecord; parsed: ParsedGovRecord }> {
  const bytes = await readFileBounded(io, path, 'proposal file', PROPOSAL_FILE_BYTES_MAX, 'PROPOSAL_FILE_BYTES_MAX');
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(bytes));
  } catch (e) {
    throw usageError(`proposal file ${path} is not JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw usageError(`proposal file ${path} must hold one record object {v, type, body, sigs}`);
  const o = json as Record<string, unknown>;
  const record = { v: o.v, type: o.type, body: o.body, sigs: Array.isArray(o.sigs) ? o.sigs : o.sigs === undefined ? [] : o.sigs } as GovRecord;
  const checked = checkRecordShape(record, `proposal file ${path}`);
  // Without ballots yet, the placeholder the shape check used is not part of the proposal.
  const parsed = (record.sigs as GovSig[]).length > 0 ? checked : { ...checked, record: { ...checked.record, sigs: [] } };
  return { record: parsed.record, parsed };
}

/** Ballots from a ballot file: one signature object, or an array of them, or a record carrying them. */
export async function loadBallots(io: CliIo, path: string): Promise<GovSig[]> {
  const bytes = await readFileBounded(io, path, 'ballot file', PROPOSAL_FILE_BYTES_MAX, 'PROPOSAL_FILE_BYTES_MAX');
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(bytes));
  } catch (e) {
    throw usageError(`ballot file ${path} is not JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(json) ? json : json !== null && typeof json === 'object' && Array.isArray((json as { sigs?: unknown }).sigs) ? (json as { sigs: unknown[] }).sigs : [json];
  const out: GovSig[] = [];
  for (const s of list) {
    const o = s as Record<string, unknown> | null;
    if (o === null || typeof o !== 'object' || ['by', 'key', 'proposal', 'sig'].some((k) => typeof o[k] !== 'string') || Object.keys(o).length !== 4) {
      throw usageError(`ballot file ${path}: each ballot is {"by", "key", "proposal", "sig"}`);
    }
    out.push({ by: o.by as string, key: o.key as string, proposal: o.proposal as string, sig: o.sig as string });
  }
  return out;
}

/** Writes a file atomically (temporary file, then rename): a reader never sees half a record. */
export async function writeAtomic(io: CliIo, path: string, text: string): Promise<void> {
  const full = resolvePath(io, path);
  const tmp = `${full}.tmp-${process.pid}-${toHex(randomBytes(4))}`;
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, full);
  } catch (e) {
    throw failure(`cannot write ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
}

export function formatRecord(record: GovRecord | UnsignedGovRecord): string {
  return JSON.stringify(record, null, 2) + '\n';
}

/** Parses `--set name=value` pairs into a params.set patch (timeouts as `timeouts.proposeMs=...`). */
export function parseParamPatch(pairs: readonly string[]): Record<string, unknown> {
  if (pairs.length === 0) throw usageError('params.set needs at least one --set <name>=<value>');
  const patch: Record<string, unknown> = {};
  const timeouts: Record<string, number> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z.]{1,40})=(0|[1-9][0-9]{0,15})$/.exec(p);
    if (m === null) throw usageError(`--set ${JSON.stringify(p.slice(0, 60))}: expected <name>=<integer>, e.g. maxBlockEntries=500`);
    const name = m[1]!.startsWith('timeouts.') ? m[1]!.slice('timeouts.'.length) : m[1]!;
    if (!(name in GOV_PARAM_RANGES)) throw usageError(`--set: unknown parameter ${m[1]} (known: ${Object.keys(GOV_PARAM_RANGES).join(', ')})`);
    const isTimeout = ['proposeMs', 'prevoteMs', 'precommitMs', 'deltaMs'].includes(name);
    if (isTimeout) timeouts[name] = Number(m[2]);
    else patch[name] = Number(m[2]);
  }
  if (Object.keys(timeouts).length > 0) patch.timeouts = timeouts;
  return patch;
}

export function checkVerifierKeyFor(name: string, key: string, flag: string): void {
  const k = parseVerifierKey(key);
  if (!k.ok) throw usageError(`${flag}: not a verifier key (<name>+<id>+<base64>): ${k.message} [${k.code}]`);
  if (k.key.name !== name) throw usageError(`${flag}: the key is named ${k.key.name}, not ${name}`);
}

const short = (hex: string) => `${hex.slice(0, 12)}...`;

const H2 = `H+${GOV_ACTIVATION_DELAY}`;
/** What each parameter governs once in force (docs/governance.md, "Parameters"). */
const PARAM_EFFECTS: Record<string, (v: number) => string> = {
  maxBlockEntries: (v) => `maxBlockEntries ${v}: every block from height ${H2} carries at most ${v} entries (built by the proposer, refused by every validator otherwise)`,
  maxBlockBytes: (v) => `maxBlockBytes ${v}: every block from height ${H2} carries at most ${v} bytes of entries (same rule on every peer)`,
  blockIntervalMs: (v) => `blockIntervalMs ${v}: a peer waits ${v} ms for more entries before starting height ${H2} and later ones`,
  maxClockSkewMs: (v) => `maxClockSkewMs ${v}: block and entry times must be within ${v} ms (proposals of height ${H2} on; admission once a peer's next height is ${H2} or later)`,
  mempoolMaxEntries: (v) => `mempoolMaxEntries ${v}: each peer's mempool holds at most ${v} entries once its next height is ${H2} or later (entries already held stay)`,
  mempoolMaxBytes: (v) => `mempoolMaxBytes ${v}: each peer's mempool holds at most ${v} bytes once its next height is ${H2} or later`,
  proposeMs: (v) => `timeouts.proposeMs ${v}: the propose timeout of heights ${H2} on (plus deltaMs per round)`,
  prevoteMs: (v) => `timeouts.prevoteMs ${v}: the prevote timeout of heights ${H2} on (plus deltaMs per round)`,
  precommitMs: (v) => `timeouts.precommitMs ${v}: the precommit timeout of heights ${H2} on (plus deltaMs per round)`,
  deltaMs: (v) => `timeouts.deltaMs ${v}: each round of heights ${H2} on waits ${v} ms longer than the one before`,
};

/** One line per parameter of a params.set patch: what changes and from when. */
export function describeParams(patch: Record<string, unknown>): string[] {
  const flat: [string, unknown][] = Object.entries(patch).flatMap(([k, v]) => (k === 'timeouts' && typeof v === 'object' && v !== null ? Object.entries(v) : [[k, v]]));
  return flat.map(([k, v]) => PARAM_EFFECTS[k]?.(Number(v)) ?? `${k} ${String(v)}`);
}

/**
 * What a record will do and from when, before it is in a block (H = the height of the block that
 * will carry it). After it is final, the peer's own summary (GovEffect) replaces this.
 */
export function describeRecord(r: GovRecord | UnsignedGovRecord): string[] {
  const b = r.body as unknown as Record<string, unknown>;
  const deadline = `it must be in a block by height ${String(b.deadline)} (deadline)`;
  switch (r.type) {
    case 'client.grant': {
      const c = b.client as { name: string; publicKey: string; vouchedBy: string; expiresAt?: number };
      return [
        `client ${c.name} (key ${short(c.publicKey)}), vouched for by ${c.vouchedBy}, may submit from height H+1, H being the block that carries this record` +
          (c.expiresAt !== undefined ? `, until height ${c.expiresAt} (exclusive)` : ''),
        `signed by ${c.vouchedBy} alone; ${deadline}`,
      ];
    }
    case 'client.revoke':
      return [`client key ${short(String(b.publicKey))} is refused from height H+1, H being the block that carries this record; its earlier entries stay valid`, `signed by the organization vouching for it; ${deadline}`];
    case 'org.key.rotate':
      return [
        `${String(b.org)}'s new key signs from height ${String(b.effectiveHeight)} (organization set ${String(b.epoch)}), with libp2p id ${String(b.peerId)}; checkpoints before stay verifiable under the old key`,
        `signed by the old and the new key; the carrying block must be at most height ${Number(b.effectiveHeight) - GOV_ACTIVATION_DELAY}; ${deadline}`,
      ];
    case 'org.add': {
      const o = b.org as { name: string; peerId: string };
      return [
        `${o.name} joins as organization set ${String(b.epoch)} from height H+${GOV_ACTIVATION_DELAY}, H being the block that carries this record (libp2p id ${o.peerId})`,
        `needs ballots of a quorum of the organizations in force and ${o.name}'s consent; ${deadline}`,
      ];
    }
    case 'org.remove':
      return [
        `${String(b.org)} leaves (organization set ${String(b.epoch)}) from height H+${GOV_ACTIVATION_DELAY}; clients it vouched for end then too`,
        `needs ballots of a quorum of the organizations in force; ${deadline}`,
      ];
    case 'params.set':
      return [
        `parameters ${JSON.stringify(b.params)} apply from height H+${GOV_ACTIVATION_DELAY}, H being the block that carries this record:`,
        ...describeParams(b.params as Record<string, unknown>).map((l) => `  ${l}`),
        `needs ballots of a quorum of the organizations in force; ${deadline}`,
      ];
  }
}
