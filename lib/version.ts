/** rig's own version, printed by `rig --version` and recorded in cache entries. */
export const RIG_VERSION = "0.1.0";
