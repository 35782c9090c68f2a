// A small, strict argument parser: `--name value` (or `--name=value`) pairs and `--flag` switches;
// anything unknown or given twice is an error that names it, so a typo never silently falls back to
// a default. Output files (--out, --json, --csv, --png in every command) are checked here too, before
// any work is done: writable, and never a file the command reads (but the checkpoint it resumes).
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
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (values.has(name) || flags.has(name)) throw new Error(`${command}: --${name} is given twice`);
    if (spec.flags?.includes(name)) {
      if (eq >= 0) throw new Error(`${command}: --${name} takes no value`);
      flags.add(name);
    } else if (spec.values.includes(name)) {
      const v = eq < 0 ? argv[++i] : a.slice(eq + 1);
      if (v === undefined || v === '' || (eq < 0 && v.startsWith('--'))) throw new Error(`${command}: --${name} needs a value`);
      values.set(name, v);
    } else {
      const known = [...spec.values, ...(spec.flags ?? [])].map((n) => `--${n}`).join(', ');
      throw new Error(`${command}: unknown option --${name} (known: ${known})`);
    }
  }
  for (const r of spec.required ?? []) if (!values.has(r)) throw new Error(`${command}: missing --${r}`);
  for (const name of OUTPUT_OPTIONS) {
    const path = values.get(name);
    if (path === undefined) continue;
    checkOutputPath(path, `${command}: --${name}`);
    // A sample grid written over the model it came from would lose the model.
    for (const [input, v] of values) {
      if (!OUTPUT_OPTIONS.includes(input) && input !== 'resume' && resolve(v) === resolve(path)) {
        throw new Error(`${command}: --${name} is the file given as --${input}, which writing it would overwrite; choose another path`);
      }
    }
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
