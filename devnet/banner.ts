// What the devnet prints once it is up: each peer's API URL, the trust file, the keys, and
// copy-pasteable commands that work against it (paths relative to the working directory).
import { dirname } from 'node:path';
import { metaAuditClientName } from '../node/peer/genesis-sharing.js';
import { orgName, shown, type Devnet } from './common.js';

/** Commands a user can paste (paths shown relative to `cwd` when inside it). */
export function exampleCommands(d: Devnet, cwd: string): string[] {
  const key = shown(d.clientKeyFile, cwd);
  const trust = shown(d.trustFile, cwd);
  const u = (i: number) => d.urls[i % d.urls.length]!;
  const hash = d.samples[0] ?? '<leaf-hash printed by submit>';
  // Reads of entries and bundles are an auditor's, status an operator's; checkpoints are public.
  const asAuditor = d.auth === undefined ? '' : ` --auth-key ${shown(d.auth.auditorKeyFile, cwd)}`;
  const asOperator = d.auth === undefined ? '' : ` --auth-key ${shown(d.auth.operatorKeyFile, cwd)}`;
  return [
    `npx cairn submit --peer ${u(0)} --key ${key} --action db.query --actor alice@example.com --resource-type db.table --resource-id payments --wait${asAuditor}`,
    `npx cairn status ${u(1)}${asOperator}`,
    `npx cairn get ${hash} --peer ${u(1)}${asAuditor}`,
    `npx cairn verify checkpoint --peer ${u(2)} --trust ${trust}`,
    `npx cairn verify receipt ${hash} --peer ${u(3)} --trust ${trust}${asAuditor}`,
    `npx cairn receipt ${hash} --peer ${u(3)} --out receipt.tlog-proof --entry-out entry.json${asAuditor}`,
    `npx cairn verify receipt receipt.tlog-proof --entry entry.json --trust ${trust}`,
    `npx cairn audit ${u(2)} --trust ${trust}${asAuditor}`,
    ...(d.auth?.enforced === true ? [`npx cairn auth whoami --peer ${u(0)}${asAuditor}`, `npx cairn auth token --peer ${u(0)}${asAuditor}`] : []),
    ...((d.metaAuditKeyFiles?.length ?? 0) > 0 ? [metaAuditSearchCommand(d, cwd)] : []),
  ];
}

/** The command that lists the logged reads of entries (themselves entries of the log, verified like any search). */
export function metaAuditSearchCommand(d: Devnet, cwd: string): string {
  const asAuditor = d.auth === undefined ? '' : ` --auth-key ${shown(d.auth.auditorKeyFile, cwd)}`;
  return `npx cairn search --peer ${d.urls[1 % d.urls.length]} --trust ${shown(d.trustFile, cwd)} --action cairn.read.entry${asAuditor}`;
}

function metaAuditLines(d: Devnet, cwd: string): string[] {
  if (d.metaAuditKeyFiles === undefined) return [];
  if (d.metaAuditKeyFiles.length === 0) {
    return [`  meta-audit: off (this devnet dir's genesis has no <org>-meta-audit clients; delete ${shown(d.dir, cwd)} for a fresh devnet that logs reads)`];
  }
  const keysDir = shown(dirname(d.metaAuditKeyFiles[0]!), cwd);
  return [
    '  meta-audit: each read of entries, bundles, receipts, status and search is itself logged, as a',
    "    cairn.read.* entry naming the reader (e.g. key:auditor), signed by the answering peer's organization",
    `    with its ${metaAuditClientName('<org>')} client key (${keysDir}/${metaAuditClientName('<org>')}.key). The logged reads of entries:`,
    `    ${metaAuditSearchCommand(d, cwd)}`,
  ];
}

/** The banner printed once the devnet is up. */
export function formatBanner(d: Devnet, cwd: string): string {
  const lines = [
    '',
    `Cairn devnet is up: ${d.peers.length} organizations, quorum ${d.quorum}, origin ${d.origin}`,
    '',
    ...d.peers.map((p) => `  ${p.name.padEnd(12)} ${p.url}   (pid ${p.pid}, log ${shown(p.logFile, cwd)})`),
    '',
    `  trust file (auditor's trust root: origin, keys, quorum): ${shown(d.trustFile, cwd)}`,
    `  client key (authorized in the genesis, vouched for by ${orgName(1)}): ${shown(d.clientKeyFile, cwd)}`,
    `  genesis: ${shown(d.genesisFile, cwd)}`,
    ...(d.auth !== undefined
      ? [
          `  auditor key (trusted as auditor by every peer: entries, bundles, audit): ${shown(d.auth.auditorKeyFile, cwd)}`,
          `  operator key (trusted as operator: status, metrics): ${shown(d.auth.operatorKeyFile, cwd)}`,
          `  policies: ${shown(dirname(dirname(d.auth.policyFiles[0] ?? d.dir)), cwd)}/<org>/policy.json${d.auth.enforced ? '' : ' (written; not enforced by this build)'}`,
          `  read with: --auth-key ${shown(d.auth.auditorKeyFile, cwd)} (or CAIRN_AUTH_KEY=${shown(d.auth.auditorKeyFile, cwd)})`,
        ]
      : []),
    ...metaAuditLines(d, cwd),
    ...(d.samples.length > 0 ? [`  sample entries (final): ${d.samples.join(', ')}`] : []),
    '',
    'Try (from this directory):',
    ...d.commands.map((c) => `  ${c}`),
    '',
    'Press Ctrl-C to stop the devnet (the keys, genesis and log stay in the devnet dir for the next start).',
    '',
  ];
  return lines.join('\n');
}
