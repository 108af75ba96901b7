import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';

/** A target as the issue states it, and the comparison that decides whether a measured value meets it. */
export interface Target {
  text: string;
  met(value: number): boolean;
}

export const atMost = (limit: number, unit = ''): Target => ({ text: `<= ${limit}${unit}`, met: (value) => value <= limit });
export const atLeast = (limit: number, unit = ''): Target => ({ text: `>= ${limit}${unit}`, met: (value) => value >= limit });
export const below = (limit: number, unit = ''): Target => ({ text: `< ${limit}${unit}`, met: (value) => value < limit });

export interface Figure {
  /** Stable key for latest.json and comparisons between runs, e.g. "calls-per-warm-view". */
  id: string;
  /** The row of the table this is, in words. */
  figure: string;
  /** Database, HubSpot latency, world, access source... */
  variant: string;
  /** The headline number the target applies to; null when the scenario could not produce one. */
  value: number | null;
  /** How the value reads in the table, with whatever context it needs ("2.0 (ticket 1.0, pipeline 1.0)"). */
  now: string;
  target: Target | null;
  /** Everything else measured for the row: breakdowns, raw rounds, counts. */
  details: Record<string, unknown>;
}

export interface Skipped {
  figure: string;
  variant: string;
  reason: string;
}

export function metOf(figure: Figure): boolean | null {
  if (figure.target === null) return null;
  return figure.value !== null && Number.isFinite(figure.value) && figure.target.met(figure.value);
}

export function table(figures: readonly Figure[], skipped: readonly Skipped[]): string {
  const rows = [
    ['figure', 'variant', 'now', 'target', 'met?'],
    ...figures.map((figure) => {
      const met = metOf(figure);
      return [figure.figure, figure.variant, figure.now, figure.target?.text ?? '-', met === null ? '-' : met ? 'yes' : 'NO'];
    }),
    ...skipped.map((entry) => [entry.figure, entry.variant, `skipped: ${entry.reason}`, '-', '-']),
  ];
  const [header, ...body] = rows as [string[], ...string[][]];
  const widths = header.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    /** 1, 5 and 15-minute load averages when the run started: the machine is shared, so they say how busy it was. */
    loadAverageAtStart: os.loadavg().map((value) => Number(value.toFixed(2))),
  };
}

export function writeResults(
  file: URL,
  run: { startedAt: Date; machine: ReturnType<typeof machine>; quick: boolean; figures: readonly Figure[]; skipped: readonly Skipped[] },
) {
  const result = {
    date: run.startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - run.startedAt.getTime()) / 1000),
    node: process.version,
    machine: run.machine,
    mode: run.quick ? 'quick (BENCH_QUICK=1: fewer, shorter rounds; figures are indicative only)' : 'default',
    targetsMissed: run.figures.filter((figure) => metOf(figure) === false).length,
    figures: run.figures.map((figure) => ({ ...figure, target: figure.target?.text ?? null, met: metOf(figure) })),
    skipped: run.skipped,
  };
  mkdirSync(new URL('.', file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}
