import { describe as suite, expect, it } from 'vitest';

import { describe, isRunnable, parseMaxSeries, parseThreshold } from '../src/types';

suite('parseThreshold', () => {
  it('accepts numbers >= 0 and empty for the default', () => {
    expect(parseThreshold(' 2.5 ')).toBe(2.5);
    expect(parseThreshold('0')).toBe(0);
    expect(parseThreshold('')).toBeUndefined();
  });
  it('refuses negative and non-numeric values', () => {
    expect(parseThreshold('-1')).toBeInstanceOf(Error);
    expect(parseThreshold('high')).toBeInstanceOf(Error);
    expect(parseThreshold('Infinity')).toBeInstanceOf(Error);
  });
});

suite('parseMaxSeries', () => {
  it('accepts whole numbers >= 1', () => {
    expect(parseMaxSeries('10')).toBe(10);
    expect(parseMaxSeries('')).toBeUndefined();
    expect(parseMaxSeries('0')).toBeInstanceOf(Error);
    expect(parseMaxSeries('1.5')).toBeInstanceOf(Error);
  });
});

suite('queries', () => {
  it('runs only visible queries with an expression', () => {
    expect(isRunnable({ refId: 'A', expr: 'up' })).toBe(true);
    expect(isRunnable({ refId: 'A', expr: '  ' })).toBe(false);
    expect(isRunnable({ refId: 'A', expr: 'up', hide: true })).toBe(false);
  });
  it('describes a query in words', () => {
    expect(describe({ expr: 'up', queryType: 'anomalies', threshold: 2, source: 'live' })).toBe(
      'anomalies of up from live, score >= 2',
    );
    expect(describe({ expr: '' })).toBe('band of (no expression) from default source');
  });
});
