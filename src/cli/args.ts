// A small, strict argument parser: `--name value` pairs and `--flag` switches; anything unknown
// is an error that names it, so a typo never silently falls back to a default.

export interface ArgSpec {
  /** Options that take a value. */
  values: readonly string[];
  /** Options without a value. */
  flags?: readonly string[];
  required?: readonly string[];
}

export interface ParsedArgs {
  values: Map<string, string>;
  flags: Set<string>;
}

export function parseArgs(argv: readonly string[], spec: ArgSpec, command: string): ParsedArgs {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`${command}: unexpected argument "${a}"`);
    const name = a.slice(2);
    if (spec.flags?.includes(name)) {
      flags.add(name);
    } else if (spec.values.includes(name)) {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${command}: --${name} needs a value`);
      values.set(name, v);
    } else {
      const known = [...spec.values, ...(spec.flags ?? [])].map((n) => `--${n}`).join(', ');
      throw new Error(`${command}: unknown option --${name} (known: ${known})`);
    }
  }
  for (const r of spec.required ?? []) if (!values.has(r)) throw new Error(`${command}: missing --${r}`);
  return { values, flags };
}

export function numberArg(args: ParsedArgs, name: string, fallback: number, command: string): number {
  const v = args.values.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${command}: --${name} must be a number, got "${v}"`);
  return n;
}
