// A small, strict argument parser: `--name value` pairs and `--flag` switches; anything unknown
// is an error that names it, so a typo never silently falls back to a default. Output files
// (--out, --json, --csv, --png in every command) are checked here too, before any work is done.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parsePrecision, type PrecisionRequest } from '../gpu/tier';

/** Options that name a file a command writes. */
const OUTPUT_OPTIONS = ['out', 'json', 'csv', 'png'];

/** Refuses an output path that cannot be written: its folder must exist and be writable, and the
 *  path must not be a folder. */
export function checkOutputPath(path: string, what: string): void {
  const dir = dirname(resolve(path));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new Error(`${what}: the folder "${dir}" does not exist`);
  }
  if (!isDir) throw new Error(`${what}: "${dir}" is not a folder`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new Error(`${what}: the folder "${dir}" is not writable`);
  }
  let target: ReturnType<typeof statSync> | undefined;
  try {
    target = statSync(path);
  } catch {
    return; // a new file
  }
  if (target.isDirectory()) throw new Error(`${what}: "${path}" is a folder; give a file name`);
}

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
  for (const name of OUTPUT_OPTIONS) {
    const path = values.get(name);
    if (path !== undefined) checkOutputPath(path, `${command}: --${name}`);
  }
  return { values, flags };
}

/** A decimal number as people type it ("16", "-0.5", "2e-4"); not hex, binary, "Infinity" or "". */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function numberArg(args: ParsedArgs, name: string, fallback: number, command: string): number {
  const v = args.values.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!DECIMAL.test(v) || !Number.isFinite(n)) throw new Error(`${command}: --${name} must be a decimal number, got "${v}"`);
  return n;
}

/** `--precision` (default auto): the tier the command's device is acquired with (gpu/tier.ts). */
export function precisionArg(args: ParsedArgs, command: string): PrecisionRequest {
  const v = args.values.get('precision');
  return v === undefined ? 'auto' : parsePrecision(v, `${command}: --precision`);
}

/** A comma-separated list of decimal numbers ("10,20,50"). */
export function numberListArg(args: ParsedArgs, name: string, fallback: number[], command: string): number[] {
  const v = args.values.get(name);
  if (v === undefined) return fallback;
  const parts = v.split(',');
  if (parts.some((p) => !DECIMAL.test(p))) throw new Error(`${command}: --${name} must be a comma-separated list of decimal numbers, got "${v}"`);
  return parts.map(Number);
}
