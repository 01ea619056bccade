// The sample entries every devnet start submits through the client SDK, waiting until each is final.
import { readFile } from 'node:fs/promises';
import { CairnClient } from '../src/client/index.js';
import { parsePrivateKey } from '../src/crypto/keys.js';
import { nodeSigner } from '../src/crypto/node.js';
import type { DevnetAuth } from './auth.js';
import { DevnetError, SAMPLES_FINAL_MS } from './common.js';
import { viewOf } from './launch.js';

/** Submits `count` sample entries through the SDK, round-robin over the peers, and waits until each is final. */
export async function submitSamples(urls: string[], clientKeyFile: string, count: number, auth: DevnetAuth): Promise<string[]> {
  const k = parsePrivateKey(await readFile(clientKeyFile, 'utf8'));
  if (!k.ok) throw new DevnetError('bad_dir', `client key ${clientKeyFile}: ${k.message}`);
  const signer = nodeSigner(k.value.seed);
  const stamp = Date.now().toString(36);
  const submitted = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      // Submitting is open; waiting for finality reads the entry back (an auditor's read).
      const client = new CairnClient({ url: urls[i % urls.length]!, credentials: auth.auditor });
      const r = await client.signAndSubmit(
        {
          v: 1,
          id: `devnet-sample-${stamp}-${i + 1}`,
          time: new Date().toISOString(),
          actor: { id: 'alice@example.com', type: 'user' },
          action: 'devnet.sample',
          resource: { type: 'devnet', id: `sample-${i + 1}` },
          outcome: 'success',
          data: { note: 'submitted by the devnet launcher' },
        },
        signer,
      );
      return { client, leafHash: r.leafHash };
    }),
  );
  try {
    await Promise.all(submitted.map((s) => s.client.waitFinal(s.leafHash, { timeoutMs: SAMPLES_FINAL_MS })));
  } catch (e) {
    // Say what each peer was doing: the usual causes are a stalled consensus or a peer cut off.
    const views = await Promise.all(urls.map(async (u) => [u, await viewOf(u, auth.operator)] as const));
    const states = views.map(([u, v]) => (v.answered ? `${u}: final size ${v.finalSize}, ${v.connected} connected, quorum ${v.quorumOk ? 'ok' : 'missing'}` : `${u}: ${v.error}`)).join('; ');
    throw new DevnetError('samples_not_final', `sample entries not final within ${SAMPLES_FINAL_MS} ms (${(e as Error).message}); ${states}`);
  }
  return submitted.map((s) => s.leafHash);
}
