// The CLI progress bar: drawn only on a terminal, throttled, cleared at the end.
import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../../node/cli/progress.js';

describe('ProgressBar', () => {
  it('draws on a TTY sink (forced redraws), clears the line when done', () => {
    let out = '';
    const bar = new ProgressBar({ isTTY: true, write: (s) => (out += s) }, 'submitting', 200);
    bar.update(50, true);
    expect(out).toMatch(/^\rsubmitting \[#{8}\.{22}\] 50\/200 \d+\/s\x1b\[K$/);
    bar.update(60); // within PROGRESS_REDRAW_MS of the last draw: skipped
    expect(out.split('\r')).toHaveLength(2);
    bar.update(200, true);
    expect(out).toContain('[##############################] 200/200');
    bar.done();
    expect(out.endsWith('\r\x1b[K')).toBe(true);
  });

  it('writes nothing when the sink is not a terminal or absent', () => {
    let out = '';
    const bar = new ProgressBar({ isTTY: false, write: (s) => (out += s) }, 'auditing', 10);
    bar.update(5, true);
    bar.done();
    new ProgressBar(null, 'x', 1).update(1, true);
    expect(out).toBe('');
  });
});
