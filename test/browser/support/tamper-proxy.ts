// A test proxy between the browser and a peer: forwards every request unchanged (Host header
// included, so request signatures still verify) and, depending on `mode`, alters answers the way
// a malicious or broken peer would. It also records every request path, so a test can tell what
// the page fetched and when.
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { entryLeaf } from '../../../src/entry/index.js';
import { fromBase64, toBase64 } from '../../../src/encoding/bytes.js';

export type TamperMode = 'none' | 'entry-bytes' | 'proof-hash' | 'checkpoint-sig';

export interface TamperProxy {
  url: string;
  mode: TamperMode;
  /** When set, GET /checkpoint answers this note instead of the peer's. */
  checkpointOverride: string | null;
  paths: string[];
  close(): Promise<void>;
}

/** Largest answer the proxy buffers (the explorer's pages are far smaller). */
const BODY_BYTES_MAX = 16 * 1024 * 1024;

function tamperEntry(mode: TamperMode, body: Buffer): Buffer {
  const r = JSON.parse(body.toString('utf8'));
  if (mode === 'entry-bytes') {
    // Another actor in both the shown entry and its leaf bytes: consistent, but not what was signed or logged.
    r.entry = { ...r.entry, actor: { ...r.entry.actor, id: `${r.entry.actor.id}-forged` } };
    r.leaf = toBase64(entryLeaf(r.entry));
  } else if (mode === 'proof-hash') {
    const h = fromBase64(r.proof[0])!;
    h[0] = h[0]! ^ 1;
    r.proof[0] = toBase64(h);
  } else if (mode === 'checkpoint-sig') {
    // Flip one bit of the signature bytes on each signature line ("— name base64(keyid‖sig)").
    r.checkpoint = (r.checkpoint as string).replace(/^(\u2014 \S+ )(\S+)$/gm, (_m: string, head: string, b64: string) => {
      const b = fromBase64(b64)!;
      b[b.length - 1]! ^= 1;
      return head + toBase64(b);
    });
  }
  return Buffer.from(JSON.stringify(r));
}

export async function startTamperProxy(target: string): Promise<TamperProxy> {
  const t = new URL(target);
  let server: Server;
  const p: TamperProxy = {
    url: '',
    mode: 'none',
    checkpointOverride: null,
    paths: [],
    close: () => new Promise((res) => server.close(() => res())),
  };
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (p.paths.length < 10_000) p.paths.push(path);
    if (p.checkpointOverride !== null && req.method === 'GET' && path === '/checkpoint') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(p.checkpointOverride);
      return;
    }
    const headers: IncomingHttpHeaders = { ...req.headers };
    delete headers['accept-encoding']; // plain bodies, so they can be altered
    const up = request({ host: t.hostname, port: t.port, method: req.method, path, headers }, (ur) => {
      const chunks: Buffer[] = [];
      let n = 0;
      ur.on('data', (c: Buffer) => {
        n += c.length;
        if (n > BODY_BYTES_MAX) ur.destroy(new Error('answer too large for the test proxy'));
        else chunks.push(c);
      });
      ur.on('error', () => res.destroy());
      ur.on('end', () => {
        let body: Buffer = Buffer.concat(chunks);
        const isEntry = /^\/v1\/entries\/[0-9a-f]{64}$/.test(path) && ur.statusCode === 200 && String(ur.headers['content-type']).startsWith('application/json');
        if (isEntry && p.mode !== 'none') body = tamperEntry(p.mode, body);
        const out = { ...ur.headers, 'content-length': String(body.length) };
        delete out['transfer-encoding'];
        res.writeHead(ur.statusCode ?? 502, out).end(body);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const a = server.address();
  p.url = `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
  return p;
}
