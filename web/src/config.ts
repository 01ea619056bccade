// What the peer's operator tells the page (GET /ui/config.json, from CAIRN_UI_CONFIG): the
// organization's OpenID provider for the login button and the peers the overview compares. None
// of it is trusted for verification: a wrong peer URL can only make a peer look unreachable or
// disagreeing; a wrong identity provider only fails the login (the peer verifies every token).
export interface UiConfig {
  oidc: { issuer: string; clientId: string; scope: string; resource: string | null; name: string } | null;
  peers: { name: string; url: string }[];
  problem?: string;
}

const CONFIG_BYTES_MAX = 64 * 1024;

export async function loadUiConfig(): Promise<UiConfig> {
  try {
    const res = await fetch('config.json', { headers: { accept: 'application/json' } });
    const text = await res.text();
    if (!res.ok || text.length > CONFIG_BYTES_MAX) return { oidc: null, peers: [], problem: `config.json answered ${res.status}` };
    const c = JSON.parse(text) as Partial<UiConfig>;
    return { oidc: c.oidc ?? null, peers: Array.isArray(c.peers) ? c.peers : [], ...(typeof c.problem === 'string' ? { problem: c.problem } : {}) };
  } catch (e) {
    return { oidc: null, peers: [], problem: (e as Error).message };
  }
}
