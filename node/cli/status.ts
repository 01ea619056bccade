// `cairn status <peer-url>`: a peer's view of the network (GET /v1/status, docs/api.md): log head,
// final size, mempool, quorum and each other organization's peer. Exit 0 whenever the peer
// answered, also when it reports a problem (the problem is printed); `--json` prints the raw answer.
import type { Command } from 'commander';
import { addCredentialOptions, loadCredential, type CredentialFlags } from './credentials.js';
import type { CliIo } from './io.js';
import { getJson, parsePeerUrl } from './peer-http.js';

interface StatusDoc {
  origin?: string;
  peerId?: string;
  validator?: { index: number; name: string } | null;
  height?: number;
  treeSize?: number;
  finalSize?: number;
  mempool?: { entries: number; bytes: number };
  peers?: { name: string; peerId: string; connected: boolean; height: number | null; treeSize: number | null }[];
  quorum?: { needed: number; reachable: number; ok: boolean };
  problem?: string | null;
  evidence?: number;
}

export async function statusCommand(io: CliIo, peerUrl: string, opts: { json?: boolean } & CredentialFlags): Promise<void> {
  const base = parsePeerUrl(peerUrl);
  const auth = await loadCredential(io, opts);
  const s = await getJson<StatusDoc>(base, '/v1/status', { auth });
  if (opts.json === true) {
    io.stdout(JSON.stringify(s, null, 2) + '\n');
    return;
  }
  const v = s.validator;
  const rows: [string, string][] = [
    ['peer', base],
    ['origin', String(s.origin)],
    ['organization', v ? `${v.name} (validator ${v.index})` : 'none (not a validator)'],
    ['peer id', String(s.peerId)],
    ['height', String(s.height)],
    ['tree size', `${s.treeSize} (final: ${s.finalSize})`],
    ['mempool', s.mempool ? `${s.mempool.entries} entries, ${s.mempool.bytes} bytes` : '?'],
    ['quorum', s.quorum ? `${s.quorum.reachable} reachable, ${s.quorum.needed} needed: ${s.quorum.ok ? 'ok' : 'NOT REACHED'}` : '?'],
    ['evidence', String(s.evidence ?? 0)],
    ['problem', s.problem ?? 'none'],
  ];
  for (const p of s.peers ?? []) {
    rows.push([`  ${p.name}`, `${p.connected ? 'connected' : 'not connected'}, height ${p.height ?? '?'}, tree size ${p.treeSize ?? '?'}`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  io.stdout(rows.map(([k, val]) => `${k.padEnd(width)}  ${val}\n`).join(''));
}

export function registerStatus(program: Command, io: CliIo): void {
  addCredentialOptions(program
    .command('status')
    .description("show a peer's status: log head, final size, mempool, quorum and the other organizations' peers")
    .argument('<peer-url>', 'base URL of the peer API, e.g. http://127.0.0.1:8401')
    .option('--json', "print the API's JSON answer"))
    .action(async (peerUrl: string, opts: { json?: boolean } & CredentialFlags) => {
      await statusCommand(io, peerUrl, opts);
    });
}
