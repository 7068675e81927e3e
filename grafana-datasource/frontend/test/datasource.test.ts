import { expect, it } from 'vitest';

import { resources, variables } from './mocks/runtime';
import { OmenDataSource } from '../src/datasource';

const settings = { id: 1, uid: 'omen', type: 'omen-anomaly-datasource', name: 'Omen', jsonData: {} };

it('replaces template variables in the expression only', () => {
  variables.job = 'api';
  const ds = new OmenDataSource(settings);
  const query = ds.applyTemplateVariables({ refId: 'A', expr: 'up{job="$job"}', threshold: 2 }, {});
  expect(query).toEqual({ refId: 'A', expr: 'up{job="api"}', threshold: 2 });
});

it('offers annotation queries through the query editor', () => {
  expect(new OmenDataSource(settings).annotations).toEqual({});
});

it('filters hidden and empty queries', () => {
  const ds = new OmenDataSource(settings);
  expect(ds.filterQuery({ refId: 'A', expr: 'up' })).toBe(true);
  expect(ds.filterQuery({ refId: 'A', expr: '' })).toBe(false);
  expect(ds.getDefaultQuery().queryType).toBe('band');
});

it('reads metric names and model info from the backend resources', async () => {
  resources['metric-names'] = ['up', 42, 'node_load1'];
  resources['model'] = { name: 'omen-default', version: '1', window: 32, threshold: 3, min_history: 8, trained_on: '' };
  const ds = new OmenDataSource(settings);
  expect(await ds.metricNames()).toEqual(['up', 'node_load1']);
  expect((await ds.modelInfo()).window).toBe(32);
});
