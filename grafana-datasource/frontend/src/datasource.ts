import type { DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import { DEFAULT_QUERY, isRunnable, type OmenOptions, type OmenQuery } from './types';

/** Model facts served by the backend's `model` resource. */
export interface ModelInfo {
  name: string;
  version: string;
  window: number;
  threshold: number;
  min_history: number;
  trained_on: string;
}

/** The frontend half of the datasource: queries run in the Rust backend. */
export class OmenDataSource extends DataSourceWithBackend<OmenQuery, OmenOptions> {
  /** Annotation queries use the query editor: `anomalies` queries mark each anomalous point. */
  annotations = {};

  constructor(settings: DataSourceInstanceSettings<OmenOptions>) {
    super(settings);
  }

  getDefaultQuery(): Partial<OmenQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(query: OmenQuery): boolean {
    return isRunnable(query);
  }

  applyTemplateVariables(query: OmenQuery, scopedVars: ScopedVars): OmenQuery {
    return { ...query, expr: getTemplateSrv().replace(query.expr, scopedVars, 'regex') };
  }

  /** Metric names known to Prometheus, for the expression field's suggestions. */
  async metricNames(): Promise<string[]> {
    const names = await this.getResource<unknown>('metric-names');
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : [];
  }

  /** The model the backend scores with. */
  modelInfo(): Promise<ModelInfo> {
    return this.getResource<ModelInfo>('model');
  }
}
