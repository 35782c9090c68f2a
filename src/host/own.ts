// Lookups by strings that come from outside (a file's dtype or tensor names, a command line): only a
// table's own entries count, so "__proto__", "constructor" or "toString" find nothing instead of
// Object.prototype's members.

/** `table[key]` when it is the table's own entry, else undefined. */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
