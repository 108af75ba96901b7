import { afterEach, describe, expect, it } from 'vitest';
import type { AdminStatus } from '../../hubspot-project/app/shared/types.ts';
import { startHarness, type Harness } from '../support/harness.js';
import { mirrorPolicy } from '../support/mirror-policy.js';
import { ana, bob, contoso, northwind, zoe } from '../support/people.js';

/** The status's recent failures: writes HubSpot did not carry out, and writes whose outcome was never learned. */
const P = northwind.portalId;

let h: Harness | undefined;
afterEach(async () => h?.close());

const status = async (portalId: number, userId: number) => {
  const response = await h!.signed({ path: '/api/v1/admin/status', portalId, userId });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<AdminStatus>().recentFailures;
};
const note = (body: string) => h!.signed({ method: 'POST', path: '/api/v1/tickets/5002/notes', portalId: P, userId: bob.id, body: { body } });

describe('recent failures on the admin status', () => {
  it('lists writes whose outcome is unknown with the failed ones, newest first, saying what each means and what to check', async () => {
    h = await startHarness({ env: { ACCESS_SOURCE: 'policy' } });
    await h.installDirect(P, ana.id);
    await h.installDirect(contoso.portalId, zoe.id);
    expect((await h.signed({ method: 'PUT', path: '/api/v1/admin/policy', portalId: P, userId: ana.id, body: mirrorPolicy(northwind) })).statusCode).toBe(200);
    expect(await status(P, ana.id)).toEqual([]);

    // HubSpot refuses the note (400): not carried out. Then answers 500: a create is not sent twice, and HubSpot may have made it.
    h.fake.switches.failNext(1, 400, '/crm/objects/2026-03/notes');
    expect((await note('Refused by HubSpot')).statusCode).toBe(502);
    h.fake.switches.failNext(1, 500, '/crm/objects/2026-03/notes');
    expect((await note('Maybe made')).statusCode).toBe(503);
    expect((await note('Made')).statusCode).toBe(200);

    const failures = await status(P, ana.id);
    expect(failures.map((failure) => [failure.outcome, failure.action, failure.objectType, failure.recordId])).toEqual([
      ['unknown', 'add-note', 'tickets', '5002'],
      ['failed', 'add-note', 'tickets', '5002'],
    ]);
    expect(failures[0]!.meaning).toBe(
      'The outcome is unknown: the change was sent to HubSpot, but whether HubSpot made it was never learned. Open the record in HubSpot and check whether the change is there before making it again.',
    );
    expect(failures[0]!.message).toMatch(/^HUBSPOT_UNAVAILABLE: /);
    expect(failures[1]!.meaning).toBe('HubSpot did not make this change. Nothing needs undoing; the person can try again once the cause below is fixed.');
    expect(failures[1]!.message).toMatch(/^HUBSPOT_REFUSED: /);
    // Another account's admin sees none of them.
    expect(await status(contoso.portalId, zoe.id)).toEqual([]);
  });
});
