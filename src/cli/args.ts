// Flag parsing shared by the subcommands: node:util's parseArgs with errors that name the command.
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { createLogger, isLevel } from '../util/log.ts';
import type { Logger } from '../util/log.ts';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export const commonOptions = {
  kubeconfig: { type: 'string' },
  'log-level': { type: 'string', default: 'info' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

export function parse<O extends Options>(cmd: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`mcgw ${cmd}: ${(err as Error).message}. Run "mcgw ${cmd} --help".`);
  }
}

export function intFlag(
  cmd: string,
  name: string,
  v: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`mcgw ${cmd}: --${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

export function loggerFrom(
  cmd: string,
  level: string | undefined,
  fields: Record<string, unknown> = {},
): Logger {
  const l = level ?? 'info';
  if (!isLevel(l))
    throw new UsageError(`mcgw ${cmd}: --log-level must be debug, info, warn or error, got "${l}"`);
  return createLogger(l, { component: cmd, ...fields });
}

/** Resolves on SIGINT/SIGTERM, so long-running commands can shut down cleanly. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
