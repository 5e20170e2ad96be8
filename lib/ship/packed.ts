/**
 * How rig whole is packed into its bundle (lib/ship/bundle.ts writes it,
 * bundle_main.ts reads it): the last line of the bundle, and the
 * placeholders in the entry that the packed rig's checksum and size replace.
 */

/** How the last line of a bundle starts: rig whole follows, gzipped, in base64. */
export const PACKED_PREFIX = "// rig packed: ";
/** Replaced in the entry by the packed rig's SHA-256 (hex). */
export const PACKED_SHA256 = "__RIG_PACKED_SHA256__";
/** Replaced in the entry by the packed rig's size in bytes. */
export const PACKED_BYTES = "__RIG_PACKED_BYTES__";
