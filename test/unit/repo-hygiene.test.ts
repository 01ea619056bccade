// Repository hygiene, checked over every TRACKED file as it is in the working tree:
// - no absolute path of the machine the tests run on (the checkout's own path, the home
//   directory, the tree where development checkouts live), so the repository behaves the same wherever it is cloned
//   and a test never runs another checkout's code;
// - comments and docs stand on their own: they do not cite an outside guide, issue numbers or
//   notes under /tmp that a reader of the repository cannot open.
// The patterns are assembled from pieces at run time, so this file does not match itself and
// needs no exclusion.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/+$/, '');

/** Tracked files (a test run from an export without .git must say so loudly, not pass). */
function trackedFiles(): string[] {
  let out: string;
  try {
    out = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    throw new Error(`repo-hygiene needs a git checkout to list tracked files (${ROOT}): ${(e as Error).message}`);
  }
  const files = out.split('\0').filter((f) => f !== '');
  if (files.length < 50) throw new Error(`git ls-files listed only ${files.length} files under ${ROOT}`);
  return files;
}

interface Hit {
  file: string;
  line: number;
  text: string;
}

/** Lines of `files` (working-tree contents) matching any of `patterns`. Binary files are skipped. */
async function scan(files: string[], patterns: RegExp[]): Promise<Hit[]> {
  const hits: Hit[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(join(ROOT, file), 'utf8');
    } catch {
      continue; // deleted in the working tree but not yet committed
    }
    if (text.includes('\0')) continue;
    const lines = text.split('\n');
    lines.forEach((l, i) => {
      if (patterns.some((p) => p.test(l))) hits.push({ file, line: i + 1, text: l.trim().slice(0, 160) });
    });
  }
  return hits;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const show = (hits: Hit[]) => hits.map((h) => `${h.file}:${h.line}: ${h.text}`);

/** The machine paths no tracked file may name. */
export function machinePathPatterns(root: string, home: string): RegExp[] {
  const slash = '/';
  const p: RegExp[] = [
    // The checkout itself, as a directory (not a prefix of an unrelated longer name).
    new RegExp(`${escape(root)}(?:${escape(sep)}|\\b|$)`),
    // The tree where this project's checkouts live on the development machines.
    new RegExp(escape(slash + ['work', ''].join(slash))),
  ];
  // The home directory of the user running the tests, when it is a real one.
  if (home.length > 1 && home !== slash) p.push(new RegExp(`${escape(home)}${escape(slash)}`));
  return p;
}

/** Citations of documents that are not in the repository. */
export function outsideCitationPatterns(): RegExp[] {
  return [
    // The engineering guide that lives outside the repository, by name or section.
    new RegExp(`\\b${'GUI'}${'DE'}\\b`),
    // Issue-tracker numbers, any case, with a space, a hyphen or a '#' before the number.
    new RegExp(`\\b${'iss'}${'ue'}[ -]?#?\\d`, 'i'),
    // Notes kept under /tmp.
    new RegExp(`${escape('/' + 'tmp' + '/')}[^\\s'"\`]*${escape('.' + 'md')}\\b`),
    // A developers' notes file outside the repository.
    new RegExp(`\\b${'DEVELOP'}${'ERS'}\\b`),
  ];
}

describe('tracked files name no absolute path of this machine', () => {
  it('the patterns catch the forms they are meant to catch', () => {
    const p = machinePathPatterns('/srv/co/cairn', '/home/ci');
    const hit = (s: string) => p.some((r) => r.test(s));
    expect(hit("cwd: '/srv/co/cairn',")).toBe(true);
    expect(hit('"out": "/srv/co/cairn/bench/results/x.json"')).toBe(true);
    expect(hit(['cwd: ', '', 'work', 'main'].join('/'))).toBe(true);
    expect(hit('see /home/ci/notes.txt')).toBe(true);
    expect(hit('"out": "bench/results/x.json"')).toBe(false);
    expect(hit('/srv/co/cairn-other/x')).toBe(true); // a \b boundary at '-': still the checkout's path
    expect(hit('new URL("../..", import.meta.url)')).toBe(false);
  });

  it('no tracked file (except package-lock.json) names the checkout path, the home dir or the checkouts tree', async () => {
    const files = trackedFiles().filter((f) => f !== 'package-lock.json');
    const hits = await scan(files, machinePathPatterns(ROOT, homedir()));
    expect(show(hits), `machine paths in tracked files (checkout at ${ROOT})`).toEqual([]);
  });
});

describe('comments and docs cite nothing outside the repository', () => {
  it('the patterns catch the forms they are meant to catch', () => {
    const p = outsideCitationPatterns();
    const hit = (s: string) => p.some((r) => r.test(s));
    expect(hit(`// see ${'GUI'}${'DE'} §4`)).toBe(true);
    expect(hit(`// (${'iss'}${'ue'} 4 §8)`)).toBe(true);
    expect(hit(`// ${'Iss'}${'ue'} 5 acceptance`)).toBe(true);
    expect(hit(`// the ${'iss'}${'ue'}-4 cluster`)).toBe(true);
    expect(hit(`// see /${'tmp'}/consensus-notes.${'md'} 22:44`)).toBe(true);
    expect(hit(`// read ${'DEVELOP'}${'ERS'}.md`)).toBe(true);
    expect(hit('// RFC 9162 §2.1.1 leaf hash')).toBe(false);
    expect(hit('// the issuer of the token; tissue 4')).toBe(false);
    expect(hit("mkdtemp(join(tmpdir(), 'cairn-'))")).toBe(false);
  });

  it('no tracked file under src, node, test, bench, devnet, docs or README.md cites one', async () => {
    const scope = ['src/', 'node/', 'test/', 'bench/', 'devnet/', 'docs/'];
    const files = trackedFiles().filter((f) => f === 'README.md' || scope.some((d) => f.startsWith(d)));
    expect(files.length).toBeGreaterThan(50);
    const hits = await scan(files, outsideCitationPatterns());
    expect(show(hits), 'citations of documents outside the repository').toEqual([]);
  });
});
