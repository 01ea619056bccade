// Every bound an audit entry is checked against. Each validation error that a limit causes names
// the constant, so a client developer can find it here.
// Lengths of strings are counted in UTF-16 code units (JavaScript `.length`); sizes in UTF-8 bytes.

/** A whole leaf (the JCS bytes of a signed entry). tlog-tiles entry bundles prefix each entry with a
 *  big-endian uint16 length (C2SP tlog-tiles), so 65,535 bytes is a hard ceiling. */
export const LEAF_BYTES_MAX = 65_535;

/** Client-chosen entry id. */
export const ID_LENGTH_MAX = 128;
/** actor.id, actor.name, resource.id, resource.name, requestId, tenant. */
export const SHORT_STRING_LENGTH_MAX = 256;
/** actor.type, resource.type (lowercase tokens like `user`, `service`, `db.table`). */
export const TOKEN_LENGTH_MAX = 64;
/** action, e.g. `db.query`. */
export const ACTION_LENGTH_MAX = 128;
/** Dot-separated segments in an action. */
export const ACTION_SEGMENTS_MAX = 8;
/** reason (free text explaining the outcome). */
export const REASON_LENGTH_MAX = 1024;
/** source.userAgent. */
export const USER_AGENT_LENGTH_MAX = 512;

/** Nesting depth of objects/arrays in `data` (the data object itself is depth 1). */
export const DATA_DEPTH_MAX = 16;
/** Keys in any one object inside `data`. */
export const DATA_OBJECT_KEYS_MAX = 256;
/** Elements in any one array inside `data`. */
export const DATA_ARRAY_LENGTH_MAX = 1024;
/** Length of an object key inside `data`. */
export const DATA_KEY_LENGTH_MAX = 128;
/** Length of a string value inside `data`. */
export const DATA_STRING_LENGTH_MAX = 16_384;
/** JSON values (objects, arrays, strings, numbers, booleans, nulls) inside `data`, all levels together. */
export const DATA_VALUES_MAX = 4096;
/** Size of `data` as JCS UTF-8 bytes (leaves room for the other fields under LEAF_BYTES_MAX). */
export const DATA_BYTES_MAX = 49_152;

/** Most errors reported for one entry (validation stops collecting after this many). */
export const ENTRY_ERRORS_MAX = 32;

/** JSON values one entry can hold: DATA_VALUES_MAX inside `data` plus the fixed fields and their
 *  objects (23 today), rounded up. The HTTP API refuses a body element with more before parsing it. */
export const ENTRY_VALUES_MAX = DATA_VALUES_MAX + 32;
/** Nesting depth of one entry as JSON: the entry object (1), `data` (2), and DATA_DEPTH_MAX - 1
 *  more levels inside `data`. */
export const ENTRY_DEPTH_MAX = DATA_DEPTH_MAX + 1;

/** Bytes of request JSON an array submission may spend per entry, on average. Typical entries are
 *  0.3-1 KiB; a full array (SUBMIT_ARRAY_MAX entries) therefore fits in SUBMIT_ARRAY_MAX x 2 KiB,
 *  about one default block (maxBlockBytes 2 MiB). Entries near LEAF_BYTES_MAX are sent in smaller
 *  arrays. Bounding the body bounds what JSON.parse may cost the event loop. */
export const SUBMIT_BYTES_PER_ENTRY = 2048;
/** JSON values an array submission may hold per entry, on average (typical entries have 20-60). */
export const SUBMIT_VALUES_PER_ENTRY = 128;
