// Process entry of a Byzantine validator (test-only):
//   node --import tsx test/proc/support/byzantine/byzantine-peer.ts <config.json>
// Starts a REAL peer from the config (node/peer: same genesis, keys, storage, consensus and gossip
// as `cairn start`, so it also takes part in consensus honestly), then, on the stdin line
// `attack <ms>`, runs the attacks of attacks.ts through that peer's own gossip publish, signed
// with its real validator key. Writes JSON lines on stdout:
//   {"byzantine":{"ready":{...}}}     peer started
//   {"byzantine":{"status":{...}}}    every second: our head and connections
//   {"byzantine":{"progress":{...}}}  every second while attacking: per-stream counts
//   {"byzantine":{"done":{...}}}      the attack ended (deadline or every stream's max reached)
// SIGTERM/SIGINT stop the attack and the peer (exit 0).
import '../../../../node/polyfills.js';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { nodeSigner } from '../../../../src/crypto/node.js';
import { bytesEqual } from '../../../../src/encoding/bytes.js';
import { loadConfig, loadSigningKey } from '../../../../node/peer/config.js';
import { startPeerFromConfig } from '../../../../node/peer/peer.js';
import { planFor, runAttacks, type AttackStats } from './attacks.js';

const emit = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify({ byzantine: o }) + '\n');

const configPath = process.argv[2];
if (configPath === undefined) {
  process.stderr.write('usage: byzantine-peer.ts <config.json>\n');
  process.exit(2);
}
process.on('uncaughtException', (e) => {
  process.stderr.write(`byzantine: fatal: ${e.stack ?? e.message}\n`);
  process.exit(1);
});

const config = await loadConfig(configPath);
const log = pino({ level: config.logLevel, base: { pid: process.pid, byzantine: true } });
const netLog = {
  debug: (o: Record<string, unknown>, m: string) => log.debug(o, m),
  info: (o: Record<string, unknown>, m: string) => log.info(o, m),
  warn: (o: Record<string, unknown>, m: string) => log.warn(o, m),
  error: (o: Record<string, unknown>, m: string) => log.error(o, m),
};
const peer = await startPeerFromConfig(config, netLog);
const { seed } = await loadSigningKey(config.signingKey);
const signer = nodeSigner(seed);
const g = peer.genesis;
const selfIndex = g.validators.findIndex((v) => bytesEqual(v.publicKey, signer.publicKey));
if (selfIndex < 0) throw new Error('the signing key is not a genesis validator: a Byzantine VALIDATOR needs one');
const net = peer.internals.net;
emit({ ready: { peerId: peer.peerId, selfIndex, name: g.validators[selfIndex]!.name } });

const statusTimer = setInterval(() => {
  const s = peer.status();
  emit({ status: { height: s.height, treeSize: s.treeSize, finalSize: s.finalSize, connected: s.peers.filter((p) => p.connected).length } });
}, 1_000);

const abort = new AbortController();
let attack: Promise<AttackStats> | null = null;
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const m = /^attack (\d+)$/.exec(line.trim());
  if (m === null || attack !== null) return;
  const durationMs = Number(m[1]);
  const plan = planFor(durationMs);
  emit({ started: { durationMs, plan } });
  attack = runAttacks(
    {
      chainId: g.origin,
      validators: g.validators.map((v) => ({ name: v.name, keyId: v.key.keyId })),
      selfIndex,
      signer,
      maxValueBytes: g.limits.maxBlockBytes + 1024,
      head: () => {
        const h = peer.internals.ledger.getHead();
        return { height: h.height, treeSize: h.treeSize };
      },
      publishConsensus: (data) => net.publish(net.topics.consensus, data),
      publishCheckpointSig: (data) => net.publish(net.topics.checkpointSigs, data),
    },
    plan,
    durationMs,
    abort.signal,
    (s) => emit({ progress: s }),
  );
  attack.then(
    (s) => emit({ done: s }),
    (e: Error) => emit({ failed: e.message }),
  );
});

let stopping = false;
const stop = () => {
  if (stopping) process.exit(130);
  stopping = true;
  abort.abort();
  clearInterval(statusTimer);
  rl.close();
  peer
    .stop()
    .then(() => process.exit(0))
    .catch(() => process.exit(1));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
