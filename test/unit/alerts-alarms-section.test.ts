// The `alarms:` section of a rules file: validated with the file's other problems (line:column,
// path), thresholds converted to the monitor's units, and kept out of the rule engine's input.
import { describe, expect, it } from 'vitest';
import { parseRulesText, RulesFileError } from '../../node/alerts/rules-file.js';

const head = 'version: 1\ndestinations: { soc: { type: slack, url: "https://chat.example/hook" } }\n';

describe('rules file alarms section', () => {
  it('reads destinations and thresholds', async () => {
    const r = await parseRulesText(`${head}alarms: { destinations: [soc], validatorSilentCheckpoints: 5, noQuorumSeconds: 30, lagHeights: 7, lagSeconds: 2, diskFreeMinBytes: 1000 }\nrules: []\n`, 'rules.yaml', { baseDir: '.' });
    expect(r.alarms).toEqual({ destinations: ['soc'], silentCheckpoints: 5, noQuorumMs: 30_000, lagHeights: 7, lagMs: 2000, diskFreeBytesMin: 1000 });
    expect((await parseRulesText(`${head}rules: []\n`, 'rules.yaml', { baseDir: '.' })).alarms).toBeUndefined();
  });

  it('names the line and the key of a bad value', async () => {
    const text = `${head}alarms:\n  destinations: [nowhere]\n  noQuorumSeconds: -1\n  bogus: 1\nrules: []\n`;
    const e = await parseRulesText(text, 'rules.yaml', { baseDir: '.' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RulesFileError);
    const msgs = (e as RulesFileError).problems.map((p) => `${p.line}:${p.path}: ${p.message}`);
    expect(msgs).toEqual([
      expect.stringMatching(/^4:alarms\.destinations\[0\]: unknown destination "nowhere"/),
      expect.stringMatching(/^5:alarms\.noQuorumSeconds: noQuorumSeconds must be an integer in 1\.\.86400/),
      expect.stringMatching(/^6:alarms\.bogus: unknown key "bogus"/),
    ]);
  });
});
