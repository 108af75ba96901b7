import {
  BarChart,
  EmptyState,
  Flex,
  LineChart,
  LoadingSpinner,
  Statistics,
  StatisticsItem,
  StatisticsTrend,
  Text,
  type ChartDataRow,
} from '@hubspot/ui-extensions';
import type { BackendClient } from '../shared/backend-client.ts';
import { ErrorView } from '../shared/ErrorView.tsx';
import type { AccountStatistics, PeriodTotal, StatisticsSeries } from '../shared/types.ts';
import { useLoad } from '../shared/useLoad.ts';

/**
 * The figures, in the order shown. `worse`: which way of moving is bad news, so its trend is red (and the other way
 * green); figures that are neither (more views is not a problem) get the arrow without a colour.
 */
const FIGURES: ReadonlyArray<{ series: StatisticsSeries; label: string; worse?: 'increase' }> = [
  { series: 'viewsAllowed', label: 'Record views allowed' },
  { series: 'refusals', label: 'Refusals', worse: 'increase' },
  { series: 'writes', label: 'Changes made' },
  { series: 'hubspotCalls', label: 'HubSpot calls' },
  { series: 'hubspotRateLimited', label: 'HubSpot 429s', worse: 'increase' },
];

/** The change against the previous period in whole percent; none when there is nothing to compare with. */
export function trendOf(total: PeriodTotal): { value: string; direction: 'increase' | 'decrease' } | null {
  if (total.previous === 0 || total.current === total.previous) return null;
  const percent = Math.round((Math.abs(total.current - total.previous) / total.previous) * 100);
  return { value: `${percent}%`, direction: total.current > total.previous ? 'increase' : 'decrease' };
}

const hasData = (statistics: AccountStatistics) => Object.values(statistics.totals).some((total) => total.current > 0 || total.previous > 0);

/**
 * HubSpot's charts take rows of plain values and draw them "in the order it's provided" (ChartProps.data in
 * @hubspot/ui-extensions 0.17), so days are a `category` axis of ISO days, oldest first, every day present (zeros
 * included) for every series, and `groupFieldByColor` splits the series.
 */
const DAY_AXIS = { field: 'day', fieldType: 'category', label: 'Day (UTC)' } as const;

export function refusalRows(statistics: AccountStatistics): ChartDataRow[] {
  return statistics.days.flatMap((day) =>
    statistics.refusalCodes.map((code) => ({ day: day.day, code, count: day.refusals.find((refusal) => refusal.code === code)?.count ?? 0 })),
  );
}

const ACTIVITY: ReadonlyArray<{ series: string; read: (day: AccountStatistics['days'][number]) => number }> = [
  { series: 'HubSpot calls', read: (day) => day.hubspotCalls },
  { series: 'HubSpot 429s', read: (day) => day.hubspotRateLimited },
  { series: 'Changes made', read: (day) => day.writes.done + day.writes.failed + day.writes.unknown },
];

export function activityRows(statistics: AccountStatistics): ChartDataRow[] {
  return statistics.days.flatMap((day) => ACTIVITY.map(({ series, read }) => ({ day: day.day, series, count: read(day) })));
}

export function StatisticsView({ statistics }: { statistics: AccountStatistics }) {
  const { window } = statistics;
  if (!hasData(statistics)) {
    return (
      <EmptyState title="No activity yet" layout="vertical">
        <Text>
          Figures appear here once people open records through Viewer Guard: views, refusals, changes and the calls made to HubSpot, per day for the last{' '}
          {window.days} days.
        </Text>
      </EmptyState>
    );
  }
  return (
    <Flex direction="column" gap="sm">
      <Text variant="microcopy">
        The last {window.days} days ({window.from} to {window.to}, UTC), compared with the {window.days} days before.
      </Text>
      <Statistics>
        {FIGURES.map(({ series, label, worse }) => {
          const total = statistics.totals[series];
          const trend = trendOf(total);
          return (
            <StatisticsItem key={series} id={series} label={label} number={total.current}>
              {trend !== null && (
                <StatisticsTrend
                  value={trend.value}
                  direction={trend.direction}
                  {...(worse === undefined ? {} : { color: trend.direction === worse ? ('red' as const) : ('green' as const) })}
                />
              )}
            </StatisticsItem>
          );
        })}
      </Statistics>
      {statistics.refusalCodes.length === 0 ? (
        <Text>Nobody was refused anything in the last {window.days} days.</Text>
      ) : (
        <BarChart
          data={refusalRows(statistics)}
          axes={{ x: DAY_AXIS, y: { field: 'count', fieldType: 'linear', label: 'Refusals' }, options: { groupFieldByColor: 'code', stacking: true } }}
          options={{ title: 'Refusals per day, by reason', showLegend: true, showTooltips: true }}
        />
      )}
      <LineChart
        data={activityRows(statistics)}
        axes={{ x: DAY_AXIS, y: { field: 'count', fieldType: 'linear', label: 'Per day' }, options: { groupFieldByColor: 'series' } }}
        options={{ title: 'HubSpot calls, 429s and changes per day', showLegend: true, showTooltips: true }}
      />
    </Flex>
  );
}

/** Loads on its own, so the rest of the settings page never waits for it nor fails with it. */
export function StatisticsSection({ client }: { client: BackendClient }) {
  const [loaded, reload] = useLoad(() => client.statistics());
  if (loaded.state === 'loading') return <LoadingSpinner label="Loading the last 30 days…" />;
  if (loaded.state === 'error') return <ErrorView error={loaded.error} onRetry={reload} />;
  return <StatisticsView statistics={loaded.data} />;
}
