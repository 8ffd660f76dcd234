// Flag parsing shared by the subcommands: node's parseArgs in strict mode, so an unknown
// or malformed flag is one clear line and exit code 2, never a guess.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A usage problem: main.ts prints `panelshot <cmd>: <message>` and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    // node's messages are clear but long; keep their first sentence.
    throw new UsageError(String((e as Error).message).split(/\.\s|\n/)[0]!.replace(/\.$/, ''));
  }
  if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument ${parsed.positionals[positionals]}`);
  return parsed;
}

/** A whole number flag within bounds, or undefined when not given. */
export function intFlag(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${raw.slice(0, 40)}"`);
  return Number(raw);
}
