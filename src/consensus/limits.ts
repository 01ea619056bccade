// Every bound of the consensus layer, in one place (TigerBeetle style: a limit on everything,
// named with its unit last). Errors that hit a limit name the constant.

/** Most validators in a set (validator indices are encoded as uint16 on the wire). */
export const VALIDATORS_MAX = 1024;
/** Largest accepted height: keeps heights exact in a JS number (2^53 - 1). */
export const HEIGHT_MAX = Number.MAX_SAFE_INTEGER;
/** Largest accepted round. Rounds grow by one per timeout, so 2^31 - 2 is never reached honestly. */
export const ROUND_MAX = 2 ** 31 - 2;
/** Value ids: sha256 by default (32 bytes); a custom valueId function may use up to 64 bytes. */
export const VALUE_ID_BYTES_MIN = 1;
export const VALUE_ID_BYTES_MAX = 64;
/** Largest proposal value, so an encoded proposal fits a 4 MiB gossip frame (libp2p's frame limit). */
export const PROPOSAL_VALUE_BYTES_MAX = 4 * 1024 * 1024 - 1024;
/** Longest chain id (log origin), in UTF-8 bytes. */
export const CHAIN_ID_BYTES_MAX = 255;
/** Ed25519 signature length. */
export const SIGNATURE_BYTES = 64;
/** Default vote-keeper window ABOVE the current round (cfg.maxRoundsKept): future rounds kept in full. */
export const ROUNDS_KEPT_DEFAULT = 16;
/**
 * Default vote-keeper window BELOW the current round (cfg.maxPastRoundsKept): past rounds kept in
 * full. Generous on purpose (Tendermint-go keeps every round): timeouts grow by deltaMs per round,
 * so with the default genesis timeouts (5 s + 1.5 s·r per round) round 256 is ~14 hours into one
 * height. Votes only: proposals are kept in full for maxRoundsKept rounds below the current one.
 */
export const PAST_ROUNDS_KEPT_DEFAULT = 256;
/**
 * Polka rounds (q prevotes for one value) older than the past window that stay pinned so that a
 * re-proposal with validRound = that round still passes L28 (the highest ones are kept); the same
 * cap again for partial polkas (f+1 prevotes for one value). See vote-keeper.ts.
 */
export const POLKA_ROUNDS_KEPT_MAX = 64;
/** Default number of future heights whose messages are buffered for replay at start-height. */
export const FUTURE_HEIGHT_WINDOW_DEFAULT = 2;
/** Default future-height buffer per height, per validator (proposal + 2 votes over 4 rounds). */
export const BUFFERED_PER_VALIDATOR_DEFAULT = 12;
