// docs/cli.md documents every command the CLI registers (node/cli/run.ts): each leaf command path
// ("export", "verify store", "gov propose", ...) appears in the reference as `<path> …` or
// `cairn <path>`, so a command added without a section fails here.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../node/cli/run.js';

function leafPaths(cmd: Command, prefix: string[] = []): string[] {
  const out: string[] = [];
  for (const sub of cmd.commands) {
    const path = [...prefix, sub.name()];
    if (sub.commands.length === 0) out.push(path.join(' '));
    else out.push(...leafPaths(sub, path));
  }
  return out;
}

describe('docs/cli.md', () => {
  it('has an entry for every registered command', () => {
    const md = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    const program = buildProgram({ stdout: () => undefined, stderr: () => undefined } as never);
    const paths = leafPaths(program);
    // The walk must see the command groups (guards against a refactor that hides them).
    expect(paths).toEqual(expect.arrayContaining(['export', 'reindex', 'alerts replay', 'search', 'history', 'auth token', 'gov list', 'trust update', 'verify store']));
    const missing = paths.filter((p) => !new RegExp(`\`(cairn )?${p.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}[ \`]`).test(md));
    expect(missing).toEqual([]);
  });
});
