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
