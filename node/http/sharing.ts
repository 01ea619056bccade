// What the consortium shares (a genesis field): in `consortium` mode every organization's peer may
// serve every entry to its own authorized principals; in `own-clients` mode a peer serves only
// entries whose client its organization vouches for, except to the consortium auditors the
// genesis names, who are trusted on every peer as signature keys with the auditor role.
// The genesis fields are read defensively: a genesis without them is `consortium` with no
// consortium auditors (what every genesis meant before the field existed).
import { parsePolicy } from '../auth/index.js';
import type { Policy } from '../auth/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import type { Genesis } from '../peer/genesis.js';

export type SharingMode = 'consortium' | 'own-clients';

/** Name of the role the gate gives consortium auditors; their key names are `consortium.<name>`. */
export const CONSORTIUM_AUDITOR_ROLE = 'consortium-auditors';
export const CONSORTIUM_KEY_PREFIX = 'consortium.';

export interface Sharing {
  mode: SharingMode;
  /** Key names (in the policy) of the consortium auditors. */
  auditorKeys: ReadonlySet<string>;
  /** In own-clients mode: does this peer's organization vouch for the entry's client? */
  vouched(e: AuditEntry): boolean;
}

interface AuditorDoc {
  name: string;
  publicKey: string;
}

function genesisField(g: Genesis, name: string): unknown {
  const any = g as unknown as Record<string, unknown>;
  return any[name] ?? (any.doc as Record<string, unknown> | undefined)?.[name];
}

export function readSharing(g: Genesis): { mode: SharingMode; auditors: AuditorDoc[] } {
  const mode = genesisField(g, 'sharing') === 'own-clients' ? 'own-clients' : 'consortium';
  const raw = genesisField(g, 'auditors');
  const auditors: AuditorDoc[] = [];
  if (Array.isArray(raw)) {
    for (const a of raw) {
      const o = a as Record<string, unknown>;
      const pk = o.publicKey ?? o.key;
      if (typeof o.name === 'string' && typeof pk === 'string') auditors.push({ name: o.name, publicKey: pk });
      else if (typeof pk === 'string') auditors.push({ name: `auditor-${auditors.length}`, publicKey: pk });
    }
  }
  return { mode, auditors };
}

/**
 * Adds the genesis' consortium auditors to the organization's policy (as signature keys holding
 * an auditor role) and returns the sharing rule. Throws on a policy that already uses the
 * reserved role or key names.
 */
export function applySharing(policy: Policy, g: Genesis, selfOrg: string | null): { policy: Policy; sharing: Sharing } {
  const { mode, auditors } = readSharing(g);
  const vouchedSet = new Set<string>();
  for (const c of g.clients.values()) if (selfOrg !== null && c.vouchedBy === selfOrg) vouchedSet.add(c.publicKeyHex);
  const sharing = (keys: Set<string>): Sharing => ({
    mode,
    auditorKeys: keys,
    vouched: (e) => typeof e.client === 'string' && vouchedSet.has(e.client.toLowerCase()),
  });
  if (auditors.length === 0) return { policy, sharing: sharing(new Set()) };
  if (policy.roles.has(CONSORTIUM_AUDITOR_ROLE)) throw new Error(`the role name "${CONSORTIUM_AUDITOR_ROLE}" is reserved for the genesis' consortium auditors`);
  // The genesis keys go through the same validation as the policy's own keys.
  const extra = parsePolicy(
    {
      keys: auditors.map((a) => ({ name: `${CONSORTIUM_KEY_PREFIX}${a.name.toLowerCase()}`, publicKey: a.publicKey, roles: [CONSORTIUM_AUDITOR_ROLE] })),
      roles: { [CONSORTIUM_AUDITOR_ROLE]: { kind: 'auditor' } },
    },
    'genesis.auditors',
  );
  if (!extra.ok) throw new Error(extra.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
  for (const k of extra.policy.keys) if (policy.keys.some((p) => p.name === k.name)) throw new Error(`key name "${k.name}" is reserved for a consortium auditor`);
  const roles = new Map(policy.roles);
  roles.set(CONSORTIUM_AUDITOR_ROLE, extra.policy.roles.get(CONSORTIUM_AUDITOR_ROLE)!);
  return {
    policy: { ...policy, roles, keys: [...policy.keys, ...extra.policy.keys] },
    sharing: sharing(new Set(extra.policy.keys.map((k) => k.name))),
  };
}
