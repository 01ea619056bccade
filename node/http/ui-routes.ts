// The web explorer's static files at /ui/ (built by `npm run build` into dist/web). They hold code
// and styles only — no entry, key, policy or peer data — so they are served to anyone; the page
// reads the log through the same API with the user's own credentials, and verifies what it shows
// against a trust file the user pins (docs/explorer.md).
//
// Headers: a strict Content-Security-Policy (scripts and styles from this origin only, requests
// to this origin only, no frames, no plugins, no inline code), assets named by content hash and
// cached as immutable, index.html revalidated every time so a new build is picked up.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

export const UI_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** Most files and bytes loaded from the build directory (the build is ~0.2 MB). */
export const UI_FILES_MAX = 64;
export const UI_BYTES_MAX = 8 * 1024 * 1024;
const ASSET_NAME_RE = /^[A-Za-z0-9_-]{1,64}\.(js|css)$/;
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', html: 'text/html; charset=utf-8' };

interface UiFile {
  body: Buffer;
  gzip: Buffer;
  type: string;
}

/** The build directory: CAIRN_UI_DIR, else dist/web next to the compiled peer, else dist/web of a source checkout. */
export function uiDirectory(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [process.env.CAIRN_UI_DIR, resolve(here, '../../web'), resolve(here, '../../dist/web')];
  for (const d of candidates) if (d !== undefined && d !== '' && existsSync(join(d, 'index.html'))) return d;
  return null;
}

function load(dir: string): { index: UiFile; assets: Map<string, UiFile> } {
  const file = (path: string, type: string): UiFile => {
    const body = readFileSync(path);
    return { body, gzip: gzipSync(body), type };
  };
  const assets = new Map<string, UiFile>();
  let bytes = 0;
  const assetDir = join(dir, 'assets');
  for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
    const m = ASSET_NAME_RE.exec(name);
    if (m === null) continue;
    if (assets.size >= UI_FILES_MAX) throw new Error(`more than ${UI_FILES_MAX} explorer assets in ${assetDir} (UI_FILES_MAX)`);
    bytes += statSync(join(assetDir, name)).size;
    if (bytes > UI_BYTES_MAX) throw new Error(`explorer assets exceed ${UI_BYTES_MAX} bytes (UI_BYTES_MAX)`);
    assets.set(name, file(join(assetDir, name), TYPES[m[1]!]!));
  }
  return { index: file(join(dir, 'index.html'), TYPES.html!), assets };
}

function send(req: FastifyRequest, reply: FastifyReply, f: UiFile, cache: string): FastifyReply {
  const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  reply
    .code(200)
    .header('content-type', f.type)
    .header('content-security-policy', UI_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', cache)
    .header('vary', 'accept-encoding');
  if (gz) reply.header('content-encoding', 'gzip');
  return reply.send(gz ? f.gzip : f.body);
}

/** Registers GET /ui, /ui/ and /ui/assets/:name. Without a build, /ui/ answers 404 saying how to build it. */
export function registerUiRoutes(app: FastifyInstance, dir: string | null = uiDirectory()): void {
  // A missing or unreadable build (e.g. being rebuilt) costs the explorer, never the peer's API.
  let files: ReturnType<typeof load> | null = null;
  let problem = 'the web explorer is not built on this peer: run `npm run build`';
  if (dir !== null) {
    try {
      files = load(dir);
    } catch (e) {
      problem = `the web explorer's files could not be loaded: ${(e as Error).message}`;
    }
  }
  app.get('/ui', async (_req, reply) => reply.code(301).header('location', '/ui/').send());
  app.get('/ui/', async (req, reply) => {
    if (files === null) return sendError(reply, 'not_found', problem);
    return send(req, reply, files.index, 'no-cache');
  });
  app.get<{ Params: { name: string } }>('/ui/assets/:name', async (req, reply) => {
    const f = files?.assets.get(req.params.name);
    if (f === undefined) return sendError(reply, 'not_found', `no explorer asset ${req.params.name.slice(0, 80)}`);
    // The name carries the content hash: a new build has new names, so this may be cached forever.
    return send(req, reply, f, 'public, max-age=31536000, immutable');
  });
}
