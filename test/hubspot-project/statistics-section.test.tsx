import { BarChart, Button, EmptyState, ErrorState, LineChart, LoadingSpinner, Statistics, StatisticsItem, StatisticsTrend, Text } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { describe, expect, it } from 'vitest';
import { StatisticsSection } from '../../hubspot-project/app/settings/StatisticsSection.tsx';
import { createBackendClient } from '../../hubspot-project/app/shared/backend-client.ts';
import { errorBody, scriptedFetch, statisticsBody } from './fixtures.ts';

const busy = statisticsBody(
  {
    '2026-11-03': { views: 12, calls: 30 },
    '2026-11-28': { views: 40, refusals: { OWNED_ONLY_NOT_OWNER: 3, NOT_AN_ADMIN: 1 }, writes: { done: 2, failed: 1 }, calls: 120, limited: 2 },
    '2026-11-30': { views: 13, refusals: { OWNED_ONLY_NOT_OWNER: 2 }, writes: { done: 1, unknown: 1 }, calls: 100 },
  },
  { viewsAllowed: 50, refusals: 4, writes: 5, hubspotCalls: 250, hubspotRateLimited: 0 },
);
const NOVEMBER = Array.from({ length: 30 }, (_, i) => `2026-11-${String(i + 1).padStart(2, '0')}`);

function renderSection(...answers: Array<{ status: number; body: unknown }>) {
  let asked = 0;
  const { fetch, calls } = scriptedFetch({
    'GET /api/v1/admin/statistics': () => answers[Math.min(asked++, answers.length - 1)]!,
  });
  const renderer = createRenderer('settings');
  renderer.render(<StatisticsSection client={createBackendClient({ fetch, portalId: 10000001, userId: 2001 })} />);
  return { renderer, calls };
}
const ready = async (renderer: ReturnType<typeof createRenderer>) => renderer.waitFor(() => expect(renderer.maybeFind(LoadingSpinner)).toBeNull());

describe('statistics section of the settings page', () => {
  it("shows the window's totals with their trend against the 30 days before, red where more is worse", async () => {
    const { renderer } = renderSection({ status: 200, body: busy });
    await ready(renderer);
    const items = renderer.find(Statistics).findAll(StatisticsItem);
    expect(items.map((item) => [item.props.label, item.props.number])).toEqual([
      ['Record views allowed', 65],
      ['Refusals', 6],
      ['Changes made', 5],
      ['HubSpot calls', 250],
      ['HubSpot 429s', 2],
    ]);
    const trend = (label: string) => renderer.find(StatisticsItem, { label }).maybeFind(StatisticsTrend)?.props ?? null;
    expect(trend('Record views allowed')).toEqual({ value: '30%', direction: 'increase' });
    expect(trend('Refusals')).toEqual({ value: '50%', direction: 'increase', color: 'red' });
    // The same as before, and nothing before to compare with: no arrow either way.
    expect(trend('Changes made')).toBeNull();
    expect(trend('HubSpot calls')).toBeNull();
    expect(trend('HubSpot 429s')).toBeNull();
    expect(renderer.findAll(Text).map((node) => node.text)).toContain('The last 30 days (2026-11-01 to 2026-11-30, UTC), compared with the 30 days before.');
  });

  it('colours a fall in refusals green', async () => {
    const { renderer } = renderSection({ status: 200, body: { ...busy, totals: { ...busy.totals, refusals: { current: 6, previous: 12 } } } });
    await ready(renderer);
    expect(renderer.find(StatisticsItem, { label: 'Refusals' }).find(StatisticsTrend).props).toEqual({ value: '50%', direction: 'decrease', color: 'green' });
  });

  it('charts refusals per day by code, stacked, every one of the 30 days in order, zeros included', async () => {
    const { renderer } = renderSection({ status: 200, body: busy });
    await ready(renderer);
    const chart = renderer.find(BarChart).props;
    expect(chart.axes).toEqual({
      x: { field: 'day', fieldType: 'category', label: 'Day (UTC)' },
      y: { field: 'count', fieldType: 'linear', label: 'Refusals' },
      options: { groupFieldByColor: 'code', stacking: true },
    });
    expect(chart.options).toMatchObject({ title: 'Refusals per day, by reason', showLegend: true });
    const rows = chart.data as Array<{ day: string; code: string; count: number }>;
    // The most frequent code first, on every day.
    expect(rows).toHaveLength(60);
    expect(rows.filter((row) => row.code === 'OWNED_ONLY_NOT_OWNER').map((row) => row.day)).toEqual(NOVEMBER);
    expect(rows.filter((row) => row.code === 'NOT_AN_ADMIN').map((row) => row.day)).toEqual(NOVEMBER);
    expect(rows.slice(54)).toEqual([
      { day: '2026-11-28', code: 'OWNED_ONLY_NOT_OWNER', count: 3 },
      { day: '2026-11-28', code: 'NOT_AN_ADMIN', count: 1 },
      { day: '2026-11-29', code: 'OWNED_ONLY_NOT_OWNER', count: 0 },
      { day: '2026-11-29', code: 'NOT_AN_ADMIN', count: 0 },
      { day: '2026-11-30', code: 'OWNED_ONLY_NOT_OWNER', count: 2 },
      { day: '2026-11-30', code: 'NOT_AN_ADMIN', count: 0 },
    ]);
    expect(rows.slice(0, 54).every((row) => row.count === 0)).toBe(true);
  });

  it('charts HubSpot calls, 429s and changes per day as lines over the same 30 days', async () => {
    const { renderer } = renderSection({ status: 200, body: busy });
    await ready(renderer);
    const chart = renderer.find(LineChart).props;
    expect(chart.axes).toEqual({
      x: { field: 'day', fieldType: 'category', label: 'Day (UTC)' },
      y: { field: 'count', fieldType: 'linear', label: 'Per day' },
      options: { groupFieldByColor: 'series' },
    });
    const rows = chart.data as Array<{ day: string; series: string; count: number }>;
    const series = (name: string) => rows.filter((row) => row.series === name);
    expect(series('HubSpot calls').map((row) => row.day)).toEqual(NOVEMBER);
    expect(series('HubSpot calls').map((row) => row.count)).toEqual(
      NOVEMBER.map((day) => ({ '2026-11-03': 30, '2026-11-28': 120, '2026-11-30': 100 })[day] ?? 0),
    );
    expect(series('HubSpot 429s').map((row) => row.count)).toEqual(NOVEMBER.map((day) => (day === '2026-11-28' ? 2 : 0)));
    expect(series('Changes made').map((row) => row.count)).toEqual(NOVEMBER.map((day) => ({ '2026-11-28': 3, '2026-11-30': 2 })[day] ?? 0));
    expect(rows).toHaveLength(90);
  });

  it('says nobody was refused instead of drawing an empty bar chart', async () => {
    const quiet = statisticsBody({ '2026-11-10': { views: 4, calls: 9 } }, { viewsAllowed: 0, refusals: 0, writes: 0, hubspotCalls: 0, hubspotRateLimited: 0 });
    const { renderer } = renderSection({ status: 200, body: quiet });
    await ready(renderer);
    expect(renderer.maybeFind(BarChart)).toBeNull();
    expect(renderer.findAll(Text).map((node) => node.text)).toContain('Nobody was refused anything in the last 30 days.');
    expect(renderer.find(LineChart).props.data).toHaveLength(90);
  });

  it('shows an empty state, not charts of zeros, before anything was counted', async () => {
    const empty = statisticsBody({}, { viewsAllowed: 0, refusals: 0, writes: 0, hubspotCalls: 0, hubspotRateLimited: 0 });
    const { renderer } = renderSection({ status: 200, body: empty });
    await ready(renderer);
    expect(renderer.find(EmptyState).props.title).toBe('No activity yet');
    expect(renderer.maybeFind(Statistics)).toBeNull();
    expect(renderer.maybeFind(BarChart)).toBeNull();
    expect(renderer.maybeFind(LineChart)).toBeNull();
  });

  it('says what went wrong and loads again on "Try again"', async () => {
    const { renderer, calls } = renderSection(
      { status: 503, body: errorBody('DATABASE_UNAVAILABLE', 'The database did not answer.', 'Try again in a few seconds.') },
      { status: 200, body: busy },
    );
    await renderer.waitFor(() => expect(renderer.maybeFind(ErrorState)).not.toBeNull());
    const error = renderer.find(ErrorState);
    expect(error.props.title).toBe('Viewer Guard is briefly unavailable');
    expect(error.findAll(Text).map((node) => node.text)).toEqual(['The database did not answer.', 'Try again in a few seconds.']);
    error.find(Button).trigger('onClick');
    await renderer.waitFor(() => expect(renderer.maybeFind(Statistics)).not.toBeNull());
    expect(renderer.maybeFind(ErrorState)).toBeNull();
    expect(calls.map((call) => new URL(call.url).pathname)).toEqual(['/api/v1/admin/statistics', '/api/v1/admin/statistics']);
  });
});
