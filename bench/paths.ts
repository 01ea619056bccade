// Where the program files are, whether the bench runs compiled (`npm run bench` ->
// dist/bench/run.js) or from source (`npx tsx bench/run.ts`): child processes (peers, load
// generators, the `cairn` CLI) are started the same way the parent was.
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** True when running from dist/ (compiled JavaScript). */
export const compiled = here.endsWith(`${'/'}dist${'/'}bench`);

/** The repository root (holds node_modules, and dist/ when compiled). */
export function codeRoot(): string {
  return compiled ? resolve(here, '../..') : resolve(here, '..');
}

/** Node arguments that run module `m` (e.g. 'node/peer/main', no extension). */
export function nodeEntryArgs(m: string): string[] {
  return compiled ? [join(codeRoot(), 'dist', `${m}.js`)] : ['--import', 'tsx', join(codeRoot(), `${m}.ts`)];
}

/**
 * `p` as a result file records it: relative to the repository when it lies inside it, else its
 * file name alone. Results are committed, and a machine's own directories mean nothing elsewhere.
 */
export function recordedPath(p: string): string {
  const abs = resolve(p);
  const rel = relative(codeRoot(), abs);
  if (rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel)) return rel.split('\\').join('/');
  return basename(abs);
}
