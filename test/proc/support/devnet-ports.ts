// Base ports for devnets started by multi-process tests. The range stays below Linux's default
// ephemeral range (32768..60999): ports the OS hands to outgoing connections and to bind(0) in
// other test files running at the same time would otherwise collide with a devnet's fixed ports
// between the launcher's check and the peer's own listen.

/** The highest port a devnet test may use: base + offset + libp2p offset (100) + up to 16 organizations. */
const HIGHEST = 32_700;
const SLOT = 200;
const SLOTS = Math.floor((HIGHEST - 20_000 - 320) / SLOT);

/** A random base port in 20000..~32400; `offset` (< 200) keeps test files that run together apart. */
export function devnetBasePort(offset = 0): number {
  return 20_000 + SLOT * Math.floor(Math.random() * SLOTS) + offset;
}
