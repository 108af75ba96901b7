import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { translate } from '@hubspot/project-parsing-lib/translate';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../backend/src/config.js';
import { BACKEND_URL } from '../../hubspot-project/app/shared/backend-client.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const project = JSON.parse(readFileSync(path.join(ROOT, 'hsproject.json'), 'utf8')) as { srcDir: string; platformVersion: string };
const SOURCE = path.join(ROOT, project.srcDir);

function hsmetaFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules') return [];
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? hsmetaFiles(full) : entry.name.endsWith('-hsmeta.json') ? [full] : [];
  });
}

/** HubSpot's own parser, as `hs project upload` runs it; schema validation needs an account, so it is skipped. */
const parse = (sourceDir: string) => translate({ projectSourceDir: sourceDir, platformVersion: project.platformVersion }, { skipValidation: true });

describe('the HubSpot project', () => {
  const scratch: string[] = [];
  afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('is platform 2026.03 with its source in hubspot-project/', () => {
    expect(project).toEqual({ name: 'viewer-guard', srcDir: 'hubspot-project', platformVersion: '2026.03' });
  });

  it("parses with HubSpot's library into the app, four cards and the settings page, dropping no file", async () => {
    const result = await parse(SOURCE);
    const nodes = result.intermediateRepresentation.intermediateNodesIndexedByUid;
    expect(result.skippedHsMetaFiles).toEqual([]);
    expect(Object.keys(nodes).length).toBe(hsmetaFiles(SOURCE).length);
    expect(Object.fromEntries(Object.values(nodes).map((node) => [node.uid, node.componentType]))).toEqual({
      viewer_guard_app: 'APPLICATION',
      viewer_guard_ticket_card: 'CARD',
      viewer_guard_contact_card: 'CARD',
      viewer_guard_deal_card: 'CARD',
      viewer_guard_company_card: 'CARD',
      viewer_guard_settings: 'SETTINGS',
    });
    const cards = Object.values(nodes)
      .filter((node) => node.componentType === 'CARD')
      .map((node) => node.config as { objectTypes: string[]; location: string });
    expect(
      cards
        .map((card) => card.objectTypes)
        .flat()
        .sort(),
    ).toEqual(['companies', 'contacts', 'deals', 'tickets']);
  });

  it('asks for the scopes the backend requests and lets the cards reach the backend', async () => {
    const nodes = (await parse(SOURCE)).intermediateRepresentation.intermediateNodesIndexedByUid;
    const app = nodes.viewer_guard_app?.config as {
      distribution: string;
      auth: { type: string; requiredScopes: string[]; optionalScopes: string[]; redirectUrls: string[] };
      permittedUrls: { fetch: string[] };
    };
    expect(app.distribution).toBe('marketplace');
    expect(app.auth.type).toBe('oauth');
    // The backend reads app-hsmeta.json itself; this proves it reads the scopes HubSpot's own parser reads.
    const backend = loadConfig({ HUBSPOT_CLIENT_ID: 'client', HUBSPOT_CLIENT_SECRET: 'secret' }).hubspot;
    expect(app.auth.requiredScopes).toEqual(backend.requiredScopes);
    expect(app.auth.optionalScopes).toEqual(backend.optionalScopes);
    expect(app.auth.redirectUrls).toEqual([`${BACKEND_URL}/oauth/callback`]);
    expect(app.permittedUrls.fetch).toEqual([BACKEND_URL]);
  });

  it('makes layout and uid mistakes fail here rather than at upload', async () => {
    const copy = mkdtempSync(path.join(tmpdir(), 'viewer-guard-project-'));
    scratch.push(copy);
    cpSync(SOURCE, copy, { recursive: true, filter: (source) => !source.includes('node_modules') });
    const ticketMeta = path.join(copy, 'app/cards/ticket-card-hsmeta.json');
    const meta = JSON.parse(readFileSync(ticketMeta, 'utf8')) as { uid: string };
    writeFileSync(ticketMeta, JSON.stringify({ ...meta, uid: 'viewer_guard_contact_card' }));
    await expect(parse(copy)).rejects.toThrow(/Duplicate uid 'viewer_guard_contact_card'/);
  });
});
