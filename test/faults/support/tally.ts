import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { z } from 'zod';
import { errorCatalogue } from '../../../backend/src/errors.js';

/**
 * The fault suite's count: faults injected, installs lost, and answers with a 5xx status that carry no documented error
 * code. Each test file keeps a FaultTally and saves it in afterAll; the global setup's teardown adds them up and prints
 * the run's last line.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    faultTallyDir?: string;
  }
}

const savedSchema = z.object({
  faults: z.number().int().min(0),
  installsLost: z.number().int().min(0),
  undocumented5xx: z.number().int().min(0),
  /** Lines a file wants printed above the total (e.g. the strict-rotation window figure). */
  lines: z.array(z.string()),
});
type Saved = z.infer<typeof savedSchema>;

/** A 5xx answer is documented when its body names a catalogue code other than INTERNAL ("something went wrong"). */
export function isDocumented5xx(body: string): boolean {
  try {
    const parsed = z.object({ error: z.object({ code: z.string() }) }).safeParse(JSON.parse(body));
    return parsed.success && parsed.data.error.code !== 'INTERNAL' && parsed.data.error.code in errorCatalogue;
  } catch {
    return false;
  }
}

export class FaultTally {
  #saved: Saved = { faults: 0, installsLost: 0, undocumented5xx: 0, lines: [] };
  /** The 5xx answers without a documented code, for the failing test's message. */
  readonly undocumented: string[] = [];

  /** One fault injected from outside (a kill, a stopped database, a HubSpot storm counts once per storm). */
  fault(count = 1): void {
    this.#saved.faults += count;
  }

  installLost(count = 1): void {
    this.#saved.installsLost += count;
  }

  /** Every answer a scenario receives goes through here; returns whether it was a 5xx without a documented code. */
  answer(status: number, body: string, what = ''): boolean {
    if (status < 500 || isDocumented5xx(body)) return false;
    this.#saved.undocumented5xx += 1;
    this.undocumented.push(`${what} ${status} ${body.slice(0, 200)}`.trim());
    return true;
  }

  line(text: string): void {
    this.#saved.lines.push(text);
  }

  get counts(): Readonly<Saved> {
    return this.#saved;
  }

  /** Call in afterAll. */
  save(): void {
    const dir = inject('faultTallyDir');
    if (dir !== undefined) writeFileSync(join(dir, `${randomUUID()}.json`), JSON.stringify(this.#saved));
  }
}

export function faultSummary(dir: string): string[] {
  const saved = readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => savedSchema.parse(JSON.parse(readFileSync(join(dir, file), 'utf8'))));
  const total = saved.reduce(
    (sum, one) => ({
      faults: sum.faults + one.faults,
      installsLost: sum.installsLost + one.installsLost,
      undocumented5xx: sum.undocumented5xx + one.undocumented5xx,
      lines: [...sum.lines, ...one.lines],
    }),
    { faults: 0, installsLost: 0, undocumented5xx: 0, lines: [] },
  );
  return [
    ...total.lines,
    `${total.faults} faults injected, ${total.installsLost} installs lost, ${total.undocumented5xx} answers 5xx without a documented code`,
  ];
}
