// Builds the explorer (web/src) into static files: index.html plus content-hashed assets, so the
// peer can serve the assets as immutable. Everything is bundled (no CDN, no run-time fetch other
// than the peer's own API). Run by `npm run build`; `node web/build.mjs <outDir>` builds elsewhere.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_DIR = resolve(here, '../dist/web');

/** Builds into `outDir` (emptied first); returns the asset file names. */
export async function buildExplorer(outDir = DEFAULT_OUT_DIR) {
  await rm(outDir, { recursive: true, force: true });
  const assets = join(outDir, 'assets');
  await mkdir(assets, { recursive: true });
  const r = await build({
    entryPoints: { explorer: join(here, 'src/main.ts'), style: join(here, 'src/style.css') },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    entryNames: '[name]-[hash]',
    outdir: assets,
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const files = {};
  for (const f of r.outputFiles) {
    await writeFile(f.path, f.contents);
    const name = basename(f.path);
    // Subresource integrity: the browser refuses an asset whose bytes differ from the page's hash.
    files[name.endsWith('.css') ? 'css' : 'js'] = { name, integrity: `sha384-${createHash('sha384').update(f.contents).digest('base64')}` };
  }
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Cairn explorer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/${files.css.name}" integrity="${files.css.integrity}">
<script type="module" src="assets/${files.js.name}" integrity="${files.js.integrity}"></script>
</head>
<body>
<div id="app"><noscript>The Cairn explorer verifies everything in your browser and needs JavaScript.</noscript></div>
</body>
</html>
`;
  await writeFile(join(outDir, 'index.html'), html);
  return { js: files.js.name, css: files.css.name };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2] !== undefined ? resolve(process.argv[2]) : DEFAULT_OUT_DIR;
  const r = await buildExplorer(out);
  console.log(`explorer built into ${out}: ${r.js}, ${r.css}`);
}
