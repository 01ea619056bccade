// Error paths of the CLI commands that talk to a peer (submit, get, receipt, status, audit,
// verify --peer, verify consistency): bad arguments, an unreachable peer, bad trust and key files,
// and peers that answer with errors or garbage — always exactly one `cairn: ...` line and a
// non-zero exit (1 refused/failed, 2 usage). The happy paths run against real peers in
// test/proc/devnet-acceptance.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { formatCheckpoint } from '../../src/checkpoint/checkpoint.js';
import { formatVerifierKey } from '../../src/checkpoint/keys.js';
import { signNote } from '../../src/checkpoint/note.js';
import { privateKeyToPem } from '../../src/crypto/keys.js';
import { nobleSigner, publicKeyFromSeed } from '../../src/crypto/noble.js';
import { EMPTY_ROOT } from '../../src/merkle/index.js';
import { parseJsonLines } from '../../node/cli/submit.js';
import { parseProofText } from '../../node/cli/verify-online.js';
import { cli, expectError, tempDir } from './support/cli.js';

let dir: { path: string; cleanup: () => Promise<void> };
const p = (n: string) => join(dir.path, n);
let closedUrl: string;
let stub: Server;
let stubUrl: string;
const HASH = 'ab'.repeat(32);
const ORIGIN = 'cairn.example/cli-peer';
const seed = new Uint8Array(32).fill(3);

beforeAll(async () => {
  dir = await tempDir('cli-peer');
  // A port nothing listens on: bind, read the port, close.
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  closedUrl = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  await new Promise<void>((r) => s.close(() => r()));

  // A misbehaving "peer": each path answers one kind of error the CLI must turn into one line.
  stub = createServer((req, res) => {
    const url = req.url ?? '';
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url === '/v1/status') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>not an API</html>');
    } else if (url === '/checkpoint') {
      json(404, { error: { code: 'no_checkpoint', message: 'no final checkpoint yet' } });
    } else if (url.startsWith(`/v1/entries/${HASH}`)) {
      if ((req.headers.accept ?? '').includes('text/plain')) json(404, { error: { code: 'not_final', message: 'entry is not final yet' } });
      else json(404, { error: { code: 'entry_not_found', message: 'no such entry' } });
    } else if (url === '/v1/entries' && req.method === 'POST') {
      json(401, { error: { code: 'unknown_client', message: 'all 1 entries rejected: client key not authorized', field: '[0].client' }, results: [{ error: { code: 'unknown_client', message: 'client key not authorized', field: '[0].client' } }] });
    } else {
      json(404, { error: { code: 'not_found', message: 'no such route' } });
    }
  });
  await new Promise<void>((r) => stub.listen(0, '127.0.0.1', () => r()));
  stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;

  await writeFile(p('trust.json'), JSON.stringify({ origin: ORIGIN, quorum: 1, keys: [formatVerifierKey('solo', publicKeyFromSeed(seed))] }));
  await writeFile(p('bad-trust.json'), JSON.stringify({ origin: ORIGIN, quroum: 1, keys: [] }));
  await writeFile(p('client.pem'), privateKeyToPem(new Uint8Array(32).fill(5)));
  await writeFile(p('bad.key'), 'not a key\n');
  await writeFile(p('cp'), signNote(formatCheckpoint({ origin: ORIGIN, size: 0, root: EMPTY_ROOT }), [{ name: 'solo', signer: nobleSigner(seed) }]));
});

afterAll(async () => {
  await new Promise<void>((r) => stub.close(() => r()));
  await dir.cleanup();
});

describe('bad arguments → exit 2, one line', () => {
  it('missing or malformed peer URLs, hashes and options', async () => {
    expectError(await cli(['status']), 2, /missing required argument 'peer-url'/);
    expectError(await cli(['status', 'ftp://x']), 2, /invalid peer URL "ftp:\/\/x": the scheme must be http or https/);
    expectError(await cli(['status', 'not a url']), 2, /invalid peer URL "not a url"/);
    expectError(await cli(['status', 'http://127.0.0.1:1/?q=1']), 2, /no query, fragment or credentials/);
    expectError(await cli(['get', 'xyz', '--peer', closedUrl]), 2, /invalid leaf hash "xyz": expected 64 hex digits/);
    expectError(await cli(['get', HASH]), 2, /required option '--peer <url>'/);
    expectError(await cli(['receipt', HASH, '--peer', closedUrl, '--wait', 'soon']), 2, /invalid --wait "soon"/);
    expectError(await cli(['receipt', HASH, '--peer', closedUrl, '--wait', '2m']), 2, /--wait 2m exceeds 60000 ms/);
    expectError(await cli(['audit', closedUrl, '--trust', p('trust.json'), '--concurrency', '0']), 2, /--concurrency must be an integer in 1\.\.64 \(AUDIT_CONCURRENCY_MAX\)/);
    expectError(await cli(['audit', closedUrl]), 2, /required option '--trust <file>'/);
    expectError(await cli(['audit', closedUrl, '--trust', p('trust.json'), '--timeout', '500ms']), 2, /--timeout must be at least 1s/);
    expectError(await cli(['audit', closedUrl, '--trust', p('trust.json'), '--timeout', 'forever']), 2, /invalid --timeout "forever"/);
    expectError(await cli(['verify', 'consistency', p('cp'), '--trust', p('trust.json')]), 2, /give either <new-checkpoint> and --proof <file> \(offline\) or --peer <url> \(online\)/);
    expectError(await cli(['verify', 'consistency', p('cp'), p('cp'), '--trust', p('trust.json')]), 2, /offline consistency needs --proof <file>/);
    expectError(await cli(['verify', 'checkpoint', p('cp'), '--peer', closedUrl, '--trust', p('trust.json')]), 2, /give either <file> or --peer <url>, not both/);
    expectError(await cli(['verify', 'receipt', HASH, '--peer', closedUrl, '--entry', p('cp'), '--trust', p('trust.json')]), 2, /--entry is for offline use/);
    expectError(await cli(['verify', 'receipt', p('cp'), '--trust', p('trust.json')]), 2, /required option '--entry <file>' not specified \(or use --peer <url>, or give an evidence bundle\)/);
  });

  it('submit: missing fields, bad key files, bad --data, --stdin mixed with entry flags, bad JSON lines', async () => {
    const base = ['submit', '--peer', closedUrl, '--key', p('client.pem')];
    expectError(await cli(['submit', '--peer', closedUrl]), 2, /required option '--key <file>'/);
    expectError(await cli([...base, '--action', 'db.query']), 2, /missing --actor, --resource-type, --resource-id \(or use --stdin for JSON lines\)/);
    expectError(await cli(['submit', '--peer', closedUrl, '--key', p('nope.pem'), '--action', 'a.b']), 2, /cannot read client key file .*nope\.pem: no such file or directory/);
    expectError(await cli(['submit', '--peer', closedUrl, '--key', p('bad.key'), '--action', 'a.b']), 2, /invalid client key file .*bad\.key: .*\[key_format_unknown\]/);
    const flags = ['--action', 'db.query', '--actor', 'a', '--resource-type', 't', '--resource-id', 'i'];
    expectError(await cli([...base, ...flags, '--data', '{nope']), 2, /--data is not valid JSON/);
    expectError(await cli([...base, ...flags, '--outcome', 'maybe']), 2, /the entry: invalid entry: outcome_invalid at outcome/);
    expectError(await cli([...base, ...flags, '--action', 'Bad Action']), 2, /invalid entry: action_format at action/);
    expectError(await cli([...base, '--stdin', '--actor', 'a'], { stdin: new Uint8Array(0) }), 2, /--stdin reads whole entries; do not combine it with entry flags \(got --actor\)/);
    expectError(await cli([...base, '--stdin'], { stdin: new TextEncoder().encode('\n\n') }), 2, /no entries on standard input/);
    const lines = '{"actor":{"id":"a"},"action":"a.b","resource":{"type":"t","id":"i"},"outcome":"success"}\n{oops\n';
    expectError(await cli([...base, '--stdin'], { stdin: new TextEncoder().encode(lines) }), 2, /line 2: not valid JSON/);
    expectError(await cli([...base, '--stdin'], { stdin: new TextEncoder().encode('[1]\n') }), 2, /line 1: must be a JSON object/);
    expectError(await cli([...base, '--stdin'], { stdin: new TextEncoder().encode('{"action":"a.b"}\n') }), 2, /line 1: invalid entry: field_missing/);
  });

  it('verify store: needs exactly one of --config / --store; a missing store is not created', async () => {
    expectError(await cli(['verify', 'store']), 2, /give either --config <peer config file> or --store <store directory>/);
    expectError(await cli(['verify', 'store', '--config', p('a'), '--store', p('b')]), 2, /give either --config/);
    expectError(await cli(['verify', 'store', '--config', p('nope.json')]), 2, /config_unreadable: cannot read config file/);
    expectError(await cli(['verify', 'store', '--store', p('no-store')]), 2, /cannot open store .*no-store: /);
  });

  it('bad trust files → exit 2 naming the file and the reason', async () => {
    expectError(await cli(['audit', closedUrl, '--trust', p('missing.json')]), 2, /cannot read trust file .*missing\.json: no such file or directory/);
    expectError(await cli(['audit', closedUrl, '--trust', p('bad-trust.json')]), 2, /invalid trust file .*bad-trust\.json: .*\[trust_unknown_field\]/);
    expectError(await cli(['verify', 'checkpoint', '--peer', closedUrl, '--trust', p('client.pem')]), 2, /\[trust_not_json\]/);
    expectError(await cli(['verify', 'consistency', p('cp'), '--peer', closedUrl, '--trust', p('bad-trust.json')]), 2, /\[trust_unknown_field\]/);
    expectError(await cli(['audit', closedUrl, '--trust', p('trust.json'), '--genesis', p('none.json')]), 2, /cannot read genesis file .*none\.json: no such file or directory/);
    expectError(await cli(['audit', closedUrl, '--trust', p('trust.json'), '--genesis', p('trust.json')]), 2, /invalid genesis file .*trust\.json: .*\[genesis_unknown_field\]/);
  });
});

describe('unreachable peer → exit 1, one line naming the peer and the reason', () => {
  it('every command that talks to a peer', async () => {
    const refused = new RegExp(`cannot reach peer ${closedUrl.replace(/[.]/g, '\\.')}: connection refused`);
    expectError(await cli(['status', closedUrl]), 1, refused);
    expectError(await cli(['get', HASH, '--peer', closedUrl]), 1, refused);
    expectError(await cli(['receipt', HASH, '--peer', closedUrl]), 1, refused);
    expectError(await cli(['verify', 'checkpoint', '--peer', closedUrl, '--trust', p('trust.json')]), 1, refused);
    expectError(await cli(['verify', 'receipt', HASH, '--peer', closedUrl, '--trust', p('trust.json')]), 1, refused);
    expectError(await cli(['verify', 'consistency', p('cp'), '--peer', closedUrl, '--trust', p('trust.json')]), 1, refused);
    expectError(await cli(['audit', closedUrl, '--trust', p('trust.json')]), 1, /audit of .* failed after 0 entries: cannot fetch the checkpoint: cannot reach peer .*: connection refused .*\[checkpoint_unavailable\]/);
    expectError(
      await cli(['submit', '--peer', closedUrl, '--key', p('client.pem'), '--action', 'db.query', '--actor', 'a', '--resource-type', 't', '--resource-id', 'i']),
      1,
      /cannot reach peer .*: connection refused \(POST \/v1\/entries\)/,
    );
  });
});

describe('peer answers errors or garbage → exit 1 with its code', () => {
  it('maps API errors, non-JSON bodies and rejected entries', async () => {
    expectError(await cli(['status', stubUrl]), 1, /\/v1\/status: the peer answered with a body that is not JSON \(HTTP 200\)/);
    expectError(await cli(['get', HASH, '--peer', stubUrl]), 1, /HTTP 404 from .*\/v1\/entries\/(ab){32}: entry_not_found: no such entry/);
    expectError(await cli(['receipt', HASH, '--peer', stubUrl]), 1, /HTTP 404 from .*: not_final: entry is not final yet/);
    expectError(await cli(['verify', 'checkpoint', '--peer', stubUrl, '--trust', p('trust.json')]), 1, /HTTP 404 from .*\/checkpoint: no_checkpoint/);
    expectError(await cli(['audit', stubUrl, '--trust', p('trust.json')]), 1, /cannot fetch the checkpoint: HTTP 404 .*no_checkpoint.*\[checkpoint_unavailable\]/);
    const r = await cli(['submit', '--peer', stubUrl, '--key', p('client.pem'), '--action', 'db.query', '--actor', 'a', '--resource-type', 't', '--resource-id', 'i', '--id', 'x1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`submitted 1 entry to ${stubUrl}: 0 accepted, 0 already known, 1 rejected\n`);
    expect(r.stderr).toBe('cairn: 1 of 1 entry rejected; first: the entry (id x1): unknown_client: client key not authorized (field client)\n');
  });
});

describe('parsers', () => {
  it('JSON lines fill v, time and id; proofs parse from lines or the API JSON', () => {
    const [a] = parseJsonLines('\n{"id":"mine","action":"a.b"}\n');
    expect(a!.line).toBe(2);
    expect(a!.entry.id).toBe('mine');
    expect(a!.entry.v).toBe(1);
    expect(typeof a!.entry.time).toBe('string');
    const h = Buffer.alloc(32, 1).toString('base64');
    expect(parseProofText(`${h}\n${h}\n`, 'f')).toHaveLength(2);
    expect(parseProofText(JSON.stringify({ from: 1, to: 2, proof: [h] }), 'f')).toHaveLength(1);
    expect(parseProofText('', 'f')).toHaveLength(0);
    expect(parseJsonLines('{}\n'.repeat(100_000))).toHaveLength(100_000);
    expect(() => parseJsonLines('{}\n'.repeat(100_001))).toThrow(/more than 100000 entries on standard input \(SUBMIT_ENTRIES_MAX\)/);
    expect(() => parseProofText('AAAA\n', 'f')).toThrow(/hash 0 is not the base64 of 32 bytes/);
    expect(() => parseProofText(`${h}\n`.repeat(65), 'f')).toThrow(/more than 64 hashes \(MAX_PROOF_HASHES\)/);
  });
});
