import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSeed } from '../hubspot-fake/index.js';
import { browserSkipReason, chromiumAvailable, launchChromium } from '../support/browser.js';
import { startHarness, type Harness } from '../support/harness.js';

const account = loadSeed().accounts[0]!;
const superAdmin = account.users.find((user) => user.superAdmin)!;
const bystander = account.users.find((user) => !user.superAdmin && !user.canInstallApps && !user.deactivated)!;

describe.skipIf(!chromiumAvailable)(chromiumAvailable ? 'install pages in a real browser' : browserSkipReason, () => {
  let harness: Harness;
  let browser: Browser;
  // Each teardown is registered once its resource exists, so a failed browser launch still closes the harness.
  beforeAll(async () => {
    harness = await startHarness();
    return () => harness.close();
  });
  beforeAll(async () => {
    browser = await launchChromium();
    return () => browser.close();
  });

  /** Chromium reports every Content-Security-Policy violation on the console; a page here must cause none. */
  function cspViolations(page: Page): string[] {
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    return violations;
  }

  async function startInstall(page: Page, userId: number, button: 'Connect app' | 'Cancel') {
    await page.goto(`${harness.backendUrl}/`);
    await page.getByRole('link', { name: 'Continue to HubSpot' }).click();
    await page.getByLabel('Logged in as').selectOption(String(userId));
    await page.getByRole('button', { name: button }).click();
  }

  it('explains up front who can install and what HubSpot may show instead', async () => {
    const page = await browser.newPage();
    const violations = cspViolations(page);
    await page.goto(`${harness.backendUrl}/`);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Install Viewer Guard');
    const text = await page.locator('main').innerText();
    expect(text).toContain('once per HubSpot account');
    expect(text).toContain('You do not have the correct role to grant these permissions');
    // The inline stylesheet passed the CSP: the button has its colour.
    expect(await page.evaluate<string>("getComputedStyle(document.querySelector('a.button')).backgroundColor")).toBe('rgb(255, 122, 89)');
    expect(violations).toEqual([]);
    await page.close();
  });

  it("a non-admin is stopped on HubSpot's page; a cancel comes back explained; the Super Admin installs", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations = cspViolations(page);

    await startInstall(page, bystander.id, 'Connect app');
    expect(await page.locator('main').innerText()).toContain('You do not have the correct role to grant these permissions');
    expect(new URL(page.url()).origin).toBe(harness.fake.url);

    await startInstall(page, superAdmin.id, 'Cancel');
    expect(page.url()).toContain(`${harness.backendUrl}/oauth/callback`);
    expect(await page.getByRole('alert').innerText()).toContain('cancelled or declined');

    await startInstall(page, superAdmin.id, 'Connect app');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Viewer Guard is ready');
    expect(await page.getByRole('status').innerText()).toContain(`${superAdmin.firstName} ${superAdmin.lastName}`);
    await page.screenshot({ path: path.join(tmpdir(), 'viewer-guard-installed.png'), fullPage: true });

    // The state is single-use: reloading the callback does not install twice, and says why.
    await page.reload();
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Please start the install again');
    expect(await page.getByRole('alert').innerText()).toContain('This install link was already used.');
    expect(violations).toEqual([]);
    await context.close();
  });
});
