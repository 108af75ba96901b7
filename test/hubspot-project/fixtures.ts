import { vi } from 'vitest';
import type { FetchLike } from '../../hubspot-project/app/shared/backend-client.ts';

/** A stand-in for hubspot.fetch: answers per "METHOD path" (query ignored) and records every call. */
export function scriptedFetch(routes: Record<string, { status: number; body: unknown } | (() => { status: number; body: unknown }) | Error>) {
  const calls: Array<{ method: string; url: string; body: unknown }> = [];
  const fetch = vi.fn<FetchLike>(async (url, options = {}) => {
    const method = options.method ?? 'GET';
    calls.push({ method, url, body: options.body });
    const key = `${method} ${new URL(url).pathname}`;
    const route = routes[key];
    if (route === undefined) throw new Error(`unexpected call ${key}`);
    if (route instanceof Error) throw route;
    const { status, body } = typeof route === 'function' ? route() : route;
    return { ok: status >= 200 && status < 300, status, json: async () => body };
  });
  return { fetch, calls };
}

export const errorBody = (code: string, message: string, fix?: string, link?: string) => ({
  error: { code, message, ...(fix ? { fix } : {}), ...(link ? { link } : {}), correlationId: 'c-1' },
});

export const verdict = (allowed: boolean, code: string, message: string, extra: Partial<{ fix: string | null; levelLabel: string | null }> = {}) => ({
  allowed,
  code,
  message,
  fix: extra.fix ?? null,
  level: null,
  levelLabel: extra.levelLabel ?? null,
  source: 'policy' as const,
});

export const teamTicket = {
  record: {
    objectType: 'tickets',
    id: '5003',
    title: 'Export to CSV times out',
    owner: { ownerId: 7103, name: 'Carla Mendes', teams: [{ id: '301', name: 'Support EU' }] },
    stageId: '1',
    stages: [
      { id: '1', label: 'New' },
      { id: '2', label: 'Waiting on contact' },
    ],
  },
  viewer: { userId: 2006, ownerId: 7106, superAdmin: false },
  verdicts: {
    view: verdict(true, 'ALLOWED_TEAM', 'This ticket is owned by Carla Mendes, who is on your team (Support EU).', { levelLabel: 'Team and unassigned' }),
    edit: verdict(true, 'ALLOWED_TEAM', 'This ticket is owned by Carla Mendes, who is on your team (Support EU).', { levelLabel: 'Team' }),
    delete: verdict(false, 'NO_PERMISSION', "You don't have the Delete permission for tickets in HubSpot.", {
      fix: 'Ask a Super Admin to give you Delete access to tickets.',
    }),
  },
};

/**
 * An account's last 30 days as the backend answers GET /api/v1/admin/statistics (backend/src/routes/responses.ts):
 * quiet days but `busy`, whose figures also make the window's totals; `previous` are the 30 days before.
 */
export function statisticsBody(
  busy: Record<
    string,
    { views?: number; refusals?: Record<string, number>; writes?: { done?: number; failed?: number; unknown?: number }; calls?: number; limited?: number }
  >,
  previous: { viewsAllowed: number; refusals: number; writes: number; hubspotCalls: number; hubspotRateLimited: number },
) {
  const days = Array.from({ length: 30 }, (_, i) => {
    const day = `2026-11-${String(i + 1).padStart(2, '0')}`;
    const figures = busy[day] ?? {};
    return {
      day,
      viewsAllowed: figures.views ?? 0,
      refusals: Object.entries(figures.refusals ?? {}).map(([code, count]) => ({ code, count })),
      writes: { done: 0, failed: 0, unknown: 0, ...figures.writes },
      hubspotCalls: figures.calls ?? 0,
      hubspotRateLimited: figures.limited ?? 0,
    };
  });
  const sum = (read: (day: (typeof days)[number]) => number) => days.reduce((total, day) => total + read(day), 0);
  const byCode = new Map<string, number>();
  for (const day of days) for (const { code, count } of day.refusals) byCode.set(code, (byCode.get(code) ?? 0) + count);
  return {
    window: { from: '2026-11-01', to: '2026-11-30', days: 30 },
    totals: {
      viewsAllowed: { current: sum((day) => day.viewsAllowed), previous: previous.viewsAllowed },
      refusals: { current: sum((day) => day.refusals.reduce((total, refusal) => total + refusal.count, 0)), previous: previous.refusals },
      writes: { current: sum((day) => day.writes.done + day.writes.failed + day.writes.unknown), previous: previous.writes },
      hubspotCalls: { current: sum((day) => day.hubspotCalls), previous: previous.hubspotCalls },
      hubspotRateLimited: { current: sum((day) => day.hubspotRateLimited), previous: previous.hubspotRateLimited },
    },
    refusalCodes: [...byCode.entries()].sort(([, a], [, b]) => b - a).map(([code]) => code),
    days,
  };
}
