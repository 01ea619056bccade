// What the consortium shares (genesis `sharing`): in `consortium` mode every organization's peer
// may serve every entry to its own authorized principals; in `own-clients` mode a peer serves only
// entries whose client its organization vouches for, except to the consortium auditors the
// genesis names (`auditors`), who are trusted on every peer as signature keys with the auditor
// role (RFC 9421 keyid `consortium.<name>`).
import type { Policy, Role, SignatureKey } from '../auth/index.js';
import { FULL_FILTER } from '../../src/filter/index.js';
import type { AuditEntry } from '../../src/entry/types.js';
import type { Genesis } from '../peer/genesis.js';

export type SharingMode = 'consortium' | 'own-clients';

/** Name of the role the gate gives consortium auditors. */
export const CONSORTIUM_AUDITOR_ROLE = 'consortium-auditors';
/** A consortium auditor signs requests with keyid `consortium.<its genesis name>`. */
export const CONSORTIUM_KEY_PREFIX = 'consortium.';

export interface Sharing {
  mode: SharingMode;
  /** Key names (RFC 9421 keyids) of the consortium auditors. */
  auditorKeys: ReadonlySet<string>;
  /** In own-clients mode: does this peer's organization vouch for the entry's client? */
  vouched(e: AuditEntry): boolean;
}

/**
 * Adds the genesis' consortium auditors to the organization's policy (as signature keys holding
 * an auditor role) and returns the sharing rule. Throws when the policy already uses the reserved
 * role or key names.
 */
export function applySharing(policy: Policy, g: Genesis, selfOrg: string | null): { policy: Policy; sharing: Sharing } {
  const mode: SharingMode = g.sharing === 'own-clients' ? 'own-clients' : 'consortium';
  const vouchedSet = new Set<string>();
  for (const c of g.clients.values()) if (selfOrg !== null && c.vouchedBy === selfOrg) vouchedSet.add(c.publicKeyHex);
  const vouched = (e: AuditEntry) => typeof e.client === 'string' && vouchedSet.has(e.client.toLowerCase());
  const auditors = g.auditors ?? [];
  if (auditors.length === 0) return { policy, sharing: { mode, auditorKeys: new Set(), vouched } };
  if (policy.roles.has(CONSORTIUM_AUDITOR_ROLE)) throw new Error(`the role name "${CONSORTIUM_AUDITOR_ROLE}" is reserved for the genesis' consortium auditors`);
  // The genesis vetted these keys when it was loaded (canonical, not small-order).
  const keys: SignatureKey[] = auditors.map((a) => ({ name: `${CONSORTIUM_KEY_PREFIX}${a.name}`, publicKey: a.publicKey, roles: [CONSORTIUM_AUDITOR_ROLE] }));
  for (const k of keys) if (policy.keys.some((p) => p.name === k.name)) throw new Error(`key name "${k.name}" is reserved for a consortium auditor`);
  const role: Role = { name: CONSORTIUM_AUDITOR_ROLE, kind: 'auditor', scope: FULL_FILTER, mfa: null };
  const roles = new Map(policy.roles);
  roles.set(CONSORTIUM_AUDITOR_ROLE, role);
  return { policy: { ...policy, roles, keys: [...policy.keys, ...keys] }, sharing: { mode, auditorKeys: new Set(keys.map((k) => k.name)), vouched } };
}
