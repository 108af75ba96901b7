import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeed } from '../hubspot-fake/index.js';
import { startHarness, type Harness } from '../support/harness.js';

const account = loadSeed().accounts[0]!;
const superAdmin = account.users.find((user) => user.superAdmin && !user.deactivated)!;

/** The directives of a Content-Security-Policy header, by name. */
function directives(header: string | string[] | number | undefined): Map<string, string[]> {
  expect(typeof header).toBe('string');
  return new Map(
    String(header)
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0] !== '')
      .map(([name, ...sources]) => [name!, sources]),
  );
}

describe('security headers', () => {
  let harness: Harness;
  let https: Harness;
  beforeAll(async () => {
    harness = await startHarness();
    await harness.installDirect(account.portalId, superAdmin.id);
    https = await startHarness({ env: { PUBLIC_BASE_URL: 'https://viewer-guard.example.com' } });
  });
  afterAll(async () => {
    await harness.close();
    await https.close();
  });

  const pages = [
    ['the landing page', '/'],
    ['a HubSpot error page', '/oauth/callback?error=access_denied'],
    ['a state problem page', '/oauth/callback?code=abc'],
  ] as const;

  it.each(pages)('%s allows its own inline style and nothing else, and may not be framed', async (_name, url) => {
    const response = await harness.app.inject({ method: 'GET', url });
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    const csp = directives(response.headers['content-security-policy']);
    expect(csp.get('default-src')).toEqual(["'none'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    expect(csp.get('base-uri')).toEqual(["'none'"]);
    expect(csp.get('form-action')).toEqual(["'none'"]);
    expect(csp.has('script-src')).toBe(false);
    const styles = [...response.body.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => match[1]!);
    expect(styles).toHaveLength(1);
    expect(csp.get('style-src')).toEqual([`'sha256-${createHash('sha256').update(styles[0]!).digest('base64')}'`]);
    expect(response.body).not.toMatch(/<script|<img|<iframe|<form|\sstyle=/i);
    expect(response.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' });
  });

  it('sends nosniff on JSON answers too: signed, refused and not found', async () => {
    const answers = [
      await harness.signed({ path: '/api/v1/me', portalId: account.portalId, userId: superAdmin.id }),
      await harness.app.inject({ method: 'GET', url: '/api/v1/me' }),
      await harness.app.inject({ method: 'GET', url: '/nothing-here' }),
    ];
    expect(answers.map((answer) => answer.statusCode)).toEqual([200, 401, 404]);
    for (const answer of answers) {
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(directives(answer.headers['content-security-policy']).get('default-src')).toEqual(["'none'"]);
    }
  });

  it('pins https (HSTS) only when PUBLIC_BASE_URL is https', async () => {
    expect((await harness.app.inject({ method: 'GET', url: '/' })).headers['strict-transport-security']).toBeUndefined();
    const secure = await https.app.inject({ method: 'GET', url: '/' });
    expect(secure.headers['strict-transport-security']).toBe('max-age=31536000');
  });
});
