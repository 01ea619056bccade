// `cairn gov ...`: governance records from the command line (docs/governance.md, docs/cli.md).
//   cairn gov grant-client  --key <org key> --client-pub <hex> --name <n> [--expires <height>]
//   cairn gov revoke-client --key <org key> --client-pub <hex> [--reason <text>]
//   cairn gov rotate-key    --old-key <file> --new-key <file> --new-p2p <peer id> --effective-height <h>
//   cairn gov propose org.add|org.remove|params.set ... --out <file>     (a proposal without ballots)
//   cairn gov vote   --proposal <file> --key <org key> [--ballot <file>...] [--append]
//   cairn gov submit --proposal <file>                                   (a record with its ballots)
//   cairn gov list   --peer <url> --genesis <file> [--proposal <file>...]
// Each command first prints what the record will do and from which height. With --peer <url>
// and --client-key <file> the record is submitted as an ordinary entry signed by that client key
// (its authority comes from the organization signatures inside), waited for until final, and the
// peer's verdict and effect are printed. Bad input: one line on stderr, exit 2; a refused record: exit 1.
import type { Command } from 'commander';
import { parseGenesisText } from '../peer/genesis.js';
import { fromBase64, fromUtf8 } from '../../src/encoding/bytes.js';
import { parseLeaf } from '../../src/entry/leaf.js';
import {
  advanceGov,
  applyGovernance,
  genesisGovState,
  govRecordFromEntry,
  signGov,
  tallyBallots,
  unsignedGovRecord,
  withSigs,
  type GovRecord,
  type GovSig,
  type GovState,
  type UnsignedGovRecord,
} from '../../src/governance/index.js';
import { nodeVerifier } from '../../src/crypto/node.js';
import {
  checkRecordShape,
  checkVerifierKeyFor,
  describeRecord,
  formatRecord,
  freshNonce,
  loadBallots,
  loadOrgKey,
  loadProposal,
  parseHeight,
  parseParamPatch,
  writeAtomic,
} from './gov-build.js';
import { submitGovRecord, peerHeight, peerGovState, type GovRecordsPage } from './gov-submit.js';
import { failure, readFileBounded, usageError, type CliIo } from './io.js';
import { getJson, parsePeerUrl } from './peer-http.js';

/** Default deadline distance when --deadline is not given and the peer's height is known. */
export const DEADLINE_DEFAULT_DISTANCE = 10_000;
/** Largest genesis file read by `gov list`. */
const GENESIS_FILE_BYTES_MAX = 4 * 1024 * 1024;
/** Most governance records `gov list` replays (pages of 1,000). */
export const LIST_RECORDS_MAX = 10_000;

interface SubmitFlags {
  peer?: string;
  clientKey?: string;
  out?: string;
  deadline?: string;
  nonce?: string;
  epoch?: string;
  waitTimeout?: string;
}

function addSubmitOptions(cmd: Command, withShape = true): Command {
  cmd
    .option('--peer <url>', 'submit the record to this peer and wait until it is final')
    .option('--client-key <file>', 'with --peer: the client key signing the carrying entry (any authorized client)')
    .option('--out <file>', 'write the record (JSON) to this file')
    .option('--wait-timeout <duration>', 'with --peer: how long to wait for finality (default 60s)');
  if (withShape) {
    cmd
      .option('--deadline <height>', `last height the record may be applied at (default: the peer's height + ${DEADLINE_DEFAULT_DISTANCE})`)
      .option('--nonce <text>', 'makes otherwise identical records distinct (default: fresh)');
  }
  return cmd;
}

async function deadlineOf(io: CliIo, f: SubmitFlags): Promise<number> {
  if (f.deadline !== undefined) return parseHeight(f.deadline, '--deadline');
  if (f.peer === undefined) throw usageError('give --deadline <height> (or --peer <url> to default it from the peer\'s height)');
  return (await peerHeight(parsePeerUrl(f.peer))) + DEADLINE_DEFAULT_DISTANCE;
}

async function epochOf(f: SubmitFlags): Promise<number> {
  if (f.epoch !== undefined) {
    const e = parseHeight(f.epoch, '--epoch');
    if (e < 1) throw usageError('--epoch must be >= 1 (the organization set this change creates)');
    return e;
  }
  if (f.peer === undefined) throw usageError('give --epoch <n> (the organization set this change creates), or --peer <url> to read it from the peer');
  const s = await peerGovState(parsePeerUrl(f.peer));
  return s.epoch + 1 + (s.pending !== null && s.pending.type !== 'params.set' ? 1 : 0);
}

function checkSubmitFlags(f: SubmitFlags, needsOutput = true): void {
  if (f.peer !== undefined) parsePeerUrl(f.peer);
  if (f.peer !== undefined && f.clientKey === undefined) throw usageError('--peer needs --client-key <file> (the client key that signs the carrying entry)');
  if (f.peer === undefined && f.clientKey !== undefined) throw usageError('--client-key is for use with --peer');
  if (needsOutput && f.peer === undefined && f.out === undefined) throw usageError('nothing to do: give --out <file> and/or --peer <url>');
}

function nonceOf(f: SubmitFlags): string {
  return f.nonce ?? freshNonce();
}

/** Prints what the record does, writes --out, submits with --peer. */
async function finish(io: CliIo, record: GovRecord | UnsignedGovRecord, f: SubmitFlags): Promise<void> {
  const parsed = checkRecordShape(record, 'record');
  io.stdout(`record ${parsed.id} (${record.type})\n`);
  for (const line of describeRecord(record)) io.stdout(`  ${line}\n`);
  if (f.out !== undefined) {
    await writeAtomic(io, f.out, formatRecord(record));
    io.stdout(`wrote ${f.out}\n`);
  }
  if (f.peer !== undefined) {
    if (!('sigs' in record) || record.sigs.length === 0) throw usageError('this record has no signatures yet: collect ballots with cairn gov vote, then submit');
    await submitGovRecord(io, parsePeerUrl(f.peer), record, f.clientKey!, f.waitTimeout);
  }
}

function checkPub(hex: string): string {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw usageError('--client-pub must be the client\'s Ed25519 public key as 64 lowercase hex digits');
  return hex;
}

export function registerGov(program: Command, io: CliIo): void {
  const gov = program.command('gov').description('governance records: client keys, organization keys and membership, decided on the log (exit 0 ok, 1 refused, 2 usage)');

  addSubmitOptions(
    gov
      .command('grant-client')
      .description('authorize a client key, vouched for by your organization (effective from the next block)')
      .requiredOption('--key <file>', "your organization's signing key (PRIVATE+KEY+<name>+...)")
      .requiredOption('--client-pub <hex>', "the client's Ed25519 public key (64 hex)")
      .requiredOption('--name <name>', 'the client name')
      .option('--expires <height>', 'the first height at which the client may no longer submit'),
  ).action(async (o: SubmitFlags & { key: string; clientPub: string; name: string; expires?: string }) => {
    checkSubmitFlags(o);
    const pub = checkPub(o.clientPub);
    if (o.expires !== undefined && /[-:T]/.test(o.expires)) {
      // Every peer must reach the same verdict, so records carry heights, never times.
      throw usageError('--expires is a block height (records carry heights, on which every peer agrees; estimate one from the peer\'s height and block interval)');
    }
    const expiresAt = o.expires === undefined ? undefined : parseHeight(o.expires, '--expires');
    const org = await loadOrgKey(io, o.key, '--key');
    const body = { client: { name: o.name, publicKey: pub, vouchedBy: org.name, ...(expiresAt !== undefined ? { expiresAt } : {}) }, deadline: await deadlineOf(io, o), nonce: nonceOf(o) };
    const u = unsignedGovRecord('client.grant', body as never);
    checkRecordShape(u, 'grant');
    await finish(io, withSigs(u, [signGov(u, org)]), o);
  });

  addSubmitOptions(
    gov
      .command('revoke-client')
      .description('revoke a client key your organization vouches for (effective from the next block; its earlier entries stay valid)')
      .requiredOption('--key <file>', "your organization's signing key")
      .requiredOption('--client-pub <hex>', "the client's Ed25519 public key (64 hex)")
      .option('--reason <text>', 'why (kept in the record)'),
  ).action(async (o: SubmitFlags & { key: string; clientPub: string; reason?: string }) => {
    checkSubmitFlags(o);
    const pub = checkPub(o.clientPub);
    const org = await loadOrgKey(io, o.key, '--key');
    const u = unsignedGovRecord('client.revoke', { publicKey: pub, ...(o.reason !== undefined ? { reason: o.reason } : {}), deadline: await deadlineOf(io, o), nonce: nonceOf(o) } as never);
    checkRecordShape(u, 'revocation');
    await finish(io, withSigs(u, [signGov(u, org)]), o);
  });

  addSubmitOptions(
    gov
      .command('rotate-key')
      .description("rotate your organization's checkpoint/consensus key and libp2p identity (signed by the old and the new key)")
      .requiredOption('--old-key <file>', 'the current signing key')
      .requiredOption('--new-key <file>', 'the new signing key (same name; cairn keygen)')
      .requiredOption('--new-p2p <peer id>', 'the libp2p peer id the organization will use')
      .requiredOption('--effective-height <h>', 'the height from which the new key signs (at least 2 after the carrying block)')
      .option('--epoch <n>', 'the organization set this creates (default: read from --peer)'),
  ).action(async (o: SubmitFlags & { oldKey: string; newKey: string; newP2p: string; effectiveHeight: string }) => {
    checkSubmitFlags(o);
    const eff = parseHeight(o.effectiveHeight, '--effective-height');
    const oldK = await loadOrgKey(io, o.oldKey, '--old-key');
    const newK = await loadOrgKey(io, o.newKey, '--new-key');
    if (oldK.name !== newK.name) throw usageError(`--new-key is named ${newK.name}, --old-key ${oldK.name}: a rotation keeps the organization name`);
    if (oldK.verifierKey === newK.verifierKey) throw usageError('--new-key is the same key as --old-key');
    const deadline = o.deadline !== undefined ? parseHeight(o.deadline, '--deadline') : eff - 2;
    const body = { epoch: await epochOf(o), org: oldK.name, key: newK.verifierKey, peerId: o.newP2p, effectiveHeight: eff, deadline, nonce: nonceOf(o) };
    const u = unsignedGovRecord('org.key.rotate', body as never);
    checkRecordShape(u, 'rotation');
    await finish(io, withSigs(u, [signGov(u, oldK), signGov(u, newK)]), o);
  });

  addSubmitOptions(
    gov
      .command('propose')
      .description('write a proposal (org.add, org.remove or params.set) for the organizations to vote on')
      .argument('<type>', 'org.add | org.remove | params.set')
      .option('--name <org>', 'org.add / org.remove: the organization')
      .option('--verifier-key <key>', "org.add: the new organization's verifier key (<name>+<id>+<base64>)")
      .option('--peer-id <id>', "org.add: the new organization's libp2p peer id")
      .option('--set <name=value>', 'params.set: a parameter, repeatable (e.g. maxBlockEntries=500, timeouts.proposeMs=2000)', (v: string, prev: string[] = []) => [...prev, v])
      .option('--epoch <n>', 'org.add / org.remove: the organization set this creates (default: read from --peer)')
      .option('--key <file>', 'also sign it with your organization key (your ballot)'),
  ).action(async (type: string, o: SubmitFlags & { name?: string; verifierKey?: string; peerId?: string; set?: string[]; key?: string }) => {
    if (o.out === undefined) throw usageError('propose needs --out <file> (the proposal the organizations vote on)');
    const deadline = await deadlineOf(io, o);
    let u: UnsignedGovRecord;
    if (type === 'org.add') {
      if (o.name === undefined || o.verifierKey === undefined || o.peerId === undefined) throw usageError('org.add needs --name, --verifier-key and --peer-id');
      checkVerifierKeyFor(o.name, o.verifierKey, '--verifier-key');
      u = unsignedGovRecord('org.add', { epoch: await epochOf(o), org: { name: o.name, key: o.verifierKey, peerId: o.peerId }, deadline, nonce: nonceOf(o) } as never);
    } else if (type === 'org.remove') {
      if (o.name === undefined) throw usageError('org.remove needs --name <org>');
      u = unsignedGovRecord('org.remove', { epoch: await epochOf(o), org: o.name, deadline, nonce: nonceOf(o) } as never);
    } else if (type === 'params.set') {
      u = unsignedGovRecord('params.set', { params: parseParamPatch(o.set ?? []), deadline, nonce: nonceOf(o) } as never);
    } else throw usageError(`unknown proposal type ${JSON.stringify(type.slice(0, 40))}: org.add, org.remove or params.set`);
    checkRecordShape(u, 'proposal');
    const sigs: GovSig[] = o.key !== undefined ? [signGov(u, await loadOrgKey(io, o.key, '--key'))] : [];
    await finish(io, withSigs(u, sigs), { ...o, peer: undefined });
    io.stdout('next: each organization runs cairn gov vote --proposal <file> --key <its key> --append; then cairn gov submit\n');
  });

  addSubmitOptions(
    gov
      .command('vote')
      .description('sign a proposal (your ballot) and/or attach ballots others sent; prints the ballot, or --append writes it into the proposal')
      .requiredOption('--proposal <file>', 'the proposal file')
      .option('--key <file>', 'your organization key (signs your ballot)')
      .option('--ballot <file>', "another organization's ballot file to attach, repeatable", (v: string, prev: string[] = []) => [...prev, v])
      .option('--expect <record id>', 'refuse unless the proposal is this record (the id you were told to vote on)')
      .option('--append', 'write the ballots into the proposal file'),
    false,
  ).action(async (o: SubmitFlags & { proposal: string; key?: string; ballot?: string[]; expect?: string; append?: boolean }) => {
    checkSubmitFlags(o, false);
    if (o.key === undefined && (o.ballot ?? []).length === 0) throw usageError('give --key <file> (your ballot) and/or --ballot <file>');
    const { record, parsed } = await loadProposal(io, o.proposal);
    if (o.expect !== undefined && o.expect !== parsed.id) throw failure(`the proposal in ${o.proposal} is record ${parsed.id}, not ${o.expect}: not signing`);
    const added: GovSig[] = [];
    for (const f of o.ballot ?? []) {
      for (const b of await loadBallots(io, f)) {
        // A ballot names the record it is for: one copied from another proposal is refused here by name.
        if (b.proposal !== parsed.id) throw failure(`ballot of ${b.by} in ${f} is for record ${b.proposal.slice(0, 16)}..., not this proposal ${parsed.id.slice(0, 16)}...`);
        added.push(b);
      }
    }
    const unsigned: UnsignedGovRecord = { v: record.v, type: record.type, body: record.body } as UnsignedGovRecord;
    let mine: GovSig | null = null;
    if (o.key !== undefined) {
      mine = signGov(unsigned, await loadOrgKey(io, o.key, '--key'));
      added.push(mine);
    }
    // One ballot per signer key: re-running vote replaces, never duplicates.
    const sigs = [...record.sigs.filter((s) => !added.some((a) => a.by === s.by && a.key === s.key)), ...added];
    const full = withSigs(unsigned, sigs);
    checkRecordShape(full, 'proposal with ballots');
    if (o.append === true) {
      await writeAtomic(io, o.proposal, formatRecord(full));
      io.stdout(`${o.proposal}: record ${parsed.id} now carries ${sigs.length} signature(s): ${sigs.map((s) => s.by).join(', ')}\n`);
    } else if (mine !== null) {
      io.stdout(JSON.stringify(mine) + '\n');
    }
    for (const line of describeRecord(full)) io.stdout(`  ${line}\n`);
    if (o.peer !== undefined) await submitGovRecord(io, parsePeerUrl(o.peer), full, o.clientKey!, o.waitTimeout);
  });

  addSubmitOptions(
    gov
      .command('submit')
      .description('submit a record with its signatures (a voted proposal, or a record written with --out)')
      .requiredOption('--proposal <file>', 'the record file'),
    false,
  ).action(async (o: SubmitFlags & { proposal: string }) => {
    if (o.peer === undefined) throw usageError('submit needs --peer <url> and --client-key <file>');
    checkSubmitFlags(o);
    const { record } = await loadProposal(io, o.proposal);
    await finish(io, record, { ...o, out: undefined });
  });

  gov
    .command('list')
    .description("the peer's governance state and each proposal's ballots: valid, missing, ignored (and why), and the verdict it would get now")
    .requiredOption('--peer <url>', 'the peer')
    .requiredOption('--genesis <file>', 'the network genesis (the records are replayed from it)')
    .option('--proposal <file>', 'a proposal to tally, repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .action(async (o: { peer: string; genesis: string; proposal?: string[] }) => {
      const base = parsePeerUrl(o.peer);
      const gbytes = await readFileBounded(io, o.genesis, 'genesis file', GENESIS_FILE_BYTES_MAX, 'GENESIS_FILE_BYTES_MAX');
      const g = parseGenesisText(fromUtf8(gbytes));
      if (!g.ok) throw usageError(`invalid genesis file ${o.genesis}: ${g.message} [${g.code}]`);
      const proposals = [];
      for (const f of o.proposal ?? []) proposals.push({ file: f, ...(await loadProposal(io, f)) });
      const replay = await replayFromPeer(base, genesisGovState(g.genesis));
      const { page, replayed } = replay;
      // The next height: a decided change whose height has come is shown as in force.
      const at = Math.max(replay.state.height, await peerHeight(base)) + 1;
      const state = advanceGov(replay.state, at);
      const epoch = state.epochs[state.epochs.length - 1]!;
      io.stdout(`peer ${base}: ${replayed} governance record(s) replayed (last at height ${replay.state.height}); next height ${at}${page.complete ? '' : ' (more remain: the peer has not scanned its whole log yet)'}\n`);
      io.stdout(`organization set ${state.epochs.length - 1}: ${epoch.orgs.map((x) => x.name).join(', ')} (quorum ${epoch.quorum})\n`);
      if (state.pending !== null) io.stdout(`pending: ${state.pending.type} ${state.pending.record.slice(0, 16)}... takes effect at height ${state.pending.effectiveHeight}\n`);
      for (const p of proposals) {
        const t = tallyBallots(state, p.parsed, at, nodeVerifier);
        io.stdout(`proposal ${p.file}: record ${t.record} (${p.record.type})\n`);
        io.stdout(`  valid ballots (${t.approved.length} of ${t.needed} needed): ${t.approved.join(', ') || '-'}\n`);
        io.stdout(`  missing: ${t.missing.join(', ') || '-'}\n`);
        if (t.ignored.length > 0) io.stdout(`  ignored: ${t.ignored.map((x) => `${x.by} (${x.reason})`).join(', ')}\n`);
        if (p.record.type === 'org.add') io.stdout(`  consent of the added organization: ${t.consent ? 'attached' : 'missing'}\n`);
        io.stdout(`  verdict at height ${at}: ${t.verdict === null ? 'would be accepted' : `would be refused: ${t.verdict}`}\n`);
      }
    });
}

/** Pages through /v1/governance/records and replays every record from the genesis (the peer's verdicts are not trusted). */
async function replayFromPeer(base: string, start: GovState): Promise<{ state: GovState; page: GovRecordsPage; replayed: number }> {
  let state = start;
  let from = 0;
  let replayed = 0;
  for (;;) {
    const page = await getJson<GovRecordsPage>(base, `/v1/governance/records?from=${from}&limit=1000`);
    for (const r of page.records ?? []) {
      if (replayed >= LIST_RECORDS_MAX) throw failure(`more than ${LIST_RECORDS_MAX} governance records (LIST_RECORDS_MAX)`);
      const leaf = fromBase64(r.entry);
      const e = leaf === null ? null : parseLeaf(leaf);
      if (e === null || !e.ok) continue;
      const g = govRecordFromEntry(e.entry);
      if (!g.ok || r.height < state.height) continue;
      const a = applyGovernance(state, g.parsed, r.height, { verifier: nodeVerifier });
      replayed++;
      if (a.ok) state = a.state;
    }
    if (page.next === undefined) return { state, page, replayed };
    from = page.next;
  }
}
