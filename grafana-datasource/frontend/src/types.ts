// The query and settings models shared with the backend (grafana-datasource/src/query.rs and
// settings.rs), and the pure helpers the editors use.
import type { DataQuery, DataSourceJsonData, SelectableValue } from '@grafana/data';

export type QueryType = 'band' | 'anomalies' | 'score';
export type Source = 'live' | 'stored';
export type Kind = 'auto' | 'gauge' | 'counter';

export interface OmenQuery extends DataQuery {
  expr: string;
  queryType?: QueryType;
  source?: Source;
  threshold?: number;
  kind?: Kind;
  maxSeries?: number;
  /** Series names from labels, as in the Prometheus datasource: `{{job}} {{instance}}`. */
  legendFormat?: string;
  /** Smallest step between points, as the Prometheus datasource's "Min step" (`30s`). */
  interval?: string;
}

export interface OmenOptions extends DataSourceJsonData {
  timeoutSeconds?: number;
  maxSeries?: number;
  defaultSource?: Source;
  bearerAuth?: boolean;
  /** Scrape interval of the data (`15s`), for `$__rate_interval` in alert queries. */
  timeInterval?: string;
}

export interface OmenSecureOptions {
  basicAuthPassword?: string;
  bearerToken?: string;
}

export const DEFAULT_THRESHOLD = 1.0;

export const DEFAULT_QUERY: Partial<OmenQuery> = {
  expr: '',
  queryType: 'band',
  kind: 'auto',
};

export const QUERY_TYPES: Array<SelectableValue<string>> = [
  { label: 'Band', value: 'band', description: 'Value, expected value and the band of normal values' },
  { label: 'Anomalies', value: 'anomalies', description: 'Points whose score is at or above the threshold' },
  { label: 'Score', value: 'score', description: 'Anomaly score; 1.0 is the alert threshold' },
];

export const SOURCES: Array<SelectableValue<string>> = [
  { label: 'Datasource default', value: '' },
  { label: 'Live', value: 'live', description: 'Fetch raw values and score them in the plugin' },
  { label: 'Stored', value: 'stored', description: 'Read omen_anomaly_* series written by the Omen adapter' },
];

export const KINDS: Array<SelectableValue<string>> = [
  { label: 'Auto', value: 'auto', description: 'Counter when the name ends in _total, _count, _sum or _bucket' },
  { label: 'Gauge', value: 'gauge' },
  { label: 'Counter', value: 'counter', description: 'Score the per-second rate' },
];

/** Parses a threshold typed by the user: a number >= 0, or undefined for the default. */
export function parseThreshold(text: string): number | undefined | Error {
  const trimmed = text.trim();
  if (trimmed === '') {
    return undefined;
  }
  const value = Number(trimmed);
  if (!Number.isFinite(value) || value < 0) {
    return new Error('The threshold is a number >= 0 (1 is the alert threshold).');
  }
  return value;
}

/** Parses a series limit: a whole number >= 1, or undefined for the datasource's limit. */
export function parseMaxSeries(text: string): number | undefined | Error {
  const trimmed = text.trim();
  if (trimmed === '') {
    return undefined;
  }
  const value = Number(trimmed);
  if (!Number.isInteger(value) || value < 1) {
    return new Error('The series limit is a whole number >= 1.');
  }
  return value;
}

/** Whether a query is worth sending to the backend. */
export function isRunnable(query: Partial<OmenQuery>): boolean {
  return !query.hide && typeof query.expr === 'string' && query.expr.trim() !== '';
}

/** A short description of the query for the editor's footer. */
export function describe(query: Partial<OmenQuery>): string {
  const type = query.queryType ?? 'band';
  const source = query.source ?? 'default source';
  const threshold = type === 'anomalies' ? `, score >= ${query.threshold ?? DEFAULT_THRESHOLD}` : '';
  return `${type} of ${query.expr?.trim() || '(no expression)'} from ${source}${threshold}`;
}
