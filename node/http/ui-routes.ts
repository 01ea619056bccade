// The web explorer's static files at /ui/ (built by `npm run build` into dist/web). They hold code
// and styles only — no entry, key, policy or peer data — so they are served to anyone; the page
// reads the log through the same API with the user's own credentials, and verifies what it shows
// against a trust file the user pins (docs/explorer.md).
//
// Headers: a strict Content-Security-Policy (scripts and styles from this origin only, requests
// to this origin only, no frames, no plugins, no inline code), assets named by content hash and
// cached as immutable, index.html revalidated every time so a new build is picked up.
//
// GET /ui/config.json: what the page cannot know by itself — the organization's OpenID provider
// (issuer, client id) for the login button, and the peers whose heads the overview compares. It
// comes from the operator's JSON file named by CAIRN_UI_CONFIG (read at each request, so it can be
// edited without a restart), holds no secret, and widens the CSP's connect-src to exactly those
// origins. The page trusts none of it for verification: a wrong peer URL can only make a peer
// look unreachable or disagreeing, never make anything look verified.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
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

/** Largest CAIRN_UI_CONFIG file read, and most peers it may list. */
export const UI_CONFIG_BYTES_MAX = 64 * 1024;
export const UI_CONFIG_PEERS_MAX = 32;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/** What GET /ui/config.json answers (docs/explorer.md, "Configuration"). */
export interface UiConfig {
  /** The organization's OpenID provider for "Log in with …" (authorization code + PKCE). */
  oidc: { issuer: string; clientId: string; scope: string; resource: string | null; name: string } | null;
  /** The peers whose heads the overview fetches (their public /checkpoint) and compares. */
  peers: { name: string; url: string }[];
}

export type UiConfigResult = { ok: true; config: UiConfig } | { ok: false; message: string };

const EMPTY_CONFIG: UiConfig = { oidc: null, peers: [] };

function httpUrl(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > 2048) throw new Error(`${what} must be a URL string`);
  const u = new URL(v);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`${what} must be an http(s) URL`);
  if (u.username !== '' || u.password !== '') throw new Error(`${what} must not carry credentials`);
  return v.replace(/\/+$/, '');
}

function text(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || /[\u0000-\u001f]/.test(v)) throw new Error(`${what} must be a non-empty string of at most ${max} characters`);
  return v;
}

/** Validates the operator's UI config (unknown keys refused, so a typo does not go unnoticed). */
export function parseUiConfig(input: unknown): UiConfigResult {
  try {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new Error('the UI config must be a JSON object');
    const o = input as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'oidc' && k !== 'peers') throw new Error(`unknown key ${JSON.stringify(k.slice(0, 40))} (oidc, peers)`);
    let oidc: UiConfig['oidc'] = null;
    if (o.oidc !== undefined && o.oidc !== null) {
      const c = o.oidc as Record<string, unknown>;
      if (typeof c !== 'object' || Array.isArray(c)) throw new Error('oidc must be an object');
      for (const k of Object.keys(c)) if (!['issuer', 'clientId', 'scope', 'resource', 'name'].includes(k)) throw new Error(`unknown key oidc.${k.slice(0, 40)} (issuer, clientId, scope, resource, name)`);
      const issuer = httpUrl(c.issuer, 'oidc.issuer');
      oidc = {
        issuer: c.issuer as string,
        clientId: text(c.clientId, 'oidc.clientId', 256),
        scope: c.scope === undefined ? 'openid' : text(c.scope, 'oidc.scope', 512),
        resource: c.resource === undefined ? null : text(c.resource, 'oidc.resource', 512),
        name: c.name === undefined ? new URL(issuer).host : text(c.name, 'oidc.name', 64),
      };
      if (!oidc.scope.split(' ').includes('openid')) throw new Error('oidc.scope must include openid');
    }
    const peersIn = o.peers === undefined ? [] : o.peers;
    if (!Array.isArray(peersIn) || peersIn.length > UI_CONFIG_PEERS_MAX) throw new Error(`peers must be a list of at most ${UI_CONFIG_PEERS_MAX}`);
    const peers = peersIn.map((p: unknown, i) => {
      const q = p as Record<string, unknown>;
      if (typeof q !== 'object' || q === null || Object.keys(q).some((k) => k !== 'name' && k !== 'url')) throw new Error(`peers[${i}] must be {"name", "url"}`);
      const name = text(q.name, `peers[${i}].name`, 128);
      if (!NAME_RE.test(name)) throw new Error(`peers[${i}].name must match ${NAME_RE.source}`);
      return { name, url: httpUrl(q.url, `peers[${i}].url`) };
    });
    return { ok: true, config: { oidc, peers } };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

/** Reads and validates the file named by CAIRN_UI_CONFIG (no variable: an empty config). */
export async function readUiConfig(file: string | undefined = process.env.CAIRN_UI_CONFIG): Promise<UiConfigResult> {
  if (file === undefined || file === '') return { ok: true, config: EMPTY_CONFIG };
  try {
    if ((await stat(file)).size > UI_CONFIG_BYTES_MAX) return { ok: false, message: `CAIRN_UI_CONFIG is larger than ${UI_CONFIG_BYTES_MAX} bytes (UI_CONFIG_BYTES_MAX)` };
    return parseUiConfig(JSON.parse(await readFile(file, 'utf8')));
  } catch (e) {
    return { ok: false, message: `CAIRN_UI_CONFIG: ${(e as Error).message}` };
  }
}

/** The CSP with connect-src widened to the configured identity provider and peers (origins only). */
export function uiCsp(config: UiConfig): string {
  const origins = new Set<string>();
  if (config.oidc !== null) origins.add(new URL(config.oidc.issuer).origin);
  for (const p of config.peers) origins.add(new URL(p.url).origin);
  if (origins.size === 0) return UI_CSP;
  return UI_CSP.replace("connect-src 'self'", `connect-src 'self' ${[...origins].join(' ')}`);
}

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

function send(req: FastifyRequest, reply: FastifyReply, f: UiFile, cache: string, csp = UI_CSP): FastifyReply {
  const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  reply
    .code(200)
    .header('content-type', f.type)
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', cache)
    .header('vary', 'accept-encoding');
  if (gz) reply.header('content-encoding', 'gzip');
  return reply.send(gz ? f.gzip : f.body);
}

/**
 * Registers GET /ui, /ui/, /ui/config.json and /ui/assets/:name. Without a build, /ui/ answers 404
 * saying how to build it. `configFile` defaults to CAIRN_UI_CONFIG.
 */
export function registerUiRoutes(app: FastifyInstance, dir: string | null = uiDirectory(), configFile: string | undefined = process.env.CAIRN_UI_CONFIG): void {
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
    const c = await readUiConfig(configFile);
    return send(req, reply, files.index, 'no-cache', c.ok ? uiCsp(c.config) : UI_CSP);
  });
  app.get('/ui/config.json', async (_req, reply) => {
    const c = await readUiConfig(configFile);
    // A broken file costs the login button and the peer comparison, never the page: it says why.
    const body = c.ok ? c.config : { ...EMPTY_CONFIG, problem: c.message };
    return reply.code(200).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').header('content-security-policy', UI_CSP).send(body);
  });
  app.get<{ Params: { name: string } }>('/ui/assets/:name', async (req, reply) => {
    const f = files?.assets.get(req.params.name);
    if (f === undefined) return sendError(reply, 'not_found', `no explorer asset ${req.params.name.slice(0, 80)}`);
    // The name carries the content hash: a new build has new names, so this may be cached forever.
    return send(req, reply, f, 'public, max-age=31536000, immutable');
  });
}
