import React, { useEffect, useState } from 'react';
import type { QueryEditorProps } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, Select } from '@grafana/ui';

import type { OmenDataSource } from './datasource';
import {
  DEFAULT_THRESHOLD,
  KINDS,
  QUERY_TYPES,
  SOURCES,
  describe,
  parseMaxSeries,
  parseThreshold,
  type Kind,
  type OmenOptions,
  type OmenQuery,
  type QueryType,
  type Source,
} from './types';

type Props = QueryEditorProps<OmenDataSource, OmenQuery, OmenOptions>;

/** Expression, query type, source, threshold, kind and series limit of one query. */
export function QueryEditor({ datasource, query, onChange, onRunQuery }: Props) {
  const [threshold, setThreshold] = useState(query.threshold?.toString() ?? '');
  const [maxSeries, setMaxSeries] = useState(query.maxSeries?.toString() ?? '');
  const [legendFormat, setLegendFormat] = useState(query.legendFormat ?? '');
  const [minStep, setMinStep] = useState(query.interval ?? '');
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    datasource.metricNames().then(setNames, () => setNames([]));
  }, [datasource]);

  const thresholdParsed = parseThreshold(threshold);
  const maxSeriesParsed = parseMaxSeries(maxSeries);
  const update = (patch: Partial<OmenQuery>, run = true) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };

  return (
    <div>
      <InlineFieldRow>
        <InlineField label="Expression" labelWidth={14} grow tooltip="PromQL; for stored scores a plain selector such as up{job=&quot;api&quot;}">
          <Input
            value={query.expr ?? ''}
            placeholder={names.length > 0 ? `e.g. ${names[0]}` : 'e.g. http_requests_total{job="api"}'}
            onChange={(e) => update({ expr: e.currentTarget.value }, false)}
            onBlur={onRunQuery}
          />
        </InlineField>
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={14}>
          <Select
            width={16}
            options={QUERY_TYPES}
            value={query.queryType ?? 'band'}
            onChange={(v) => update({ queryType: v.value as QueryType })}
          />
        </InlineField>
        <InlineField label="Source" labelWidth={10}>
          <Select
            width={22}
            options={SOURCES}
            value={query.source ?? ''}
            onChange={(v) => update({ source: v.value ? (v.value as Source) : undefined })}
          />
        </InlineField>
        {query.queryType === 'anomalies' && (
          <InlineField
            label="Threshold"
            labelWidth={12}
            tooltip="Score at or above which a point is an anomaly; 1 is the alert threshold"
            invalid={thresholdParsed instanceof Error}
            error={thresholdParsed instanceof Error ? thresholdParsed.message : undefined}
          >
            <Input
              width={10}
              value={threshold}
              placeholder={String(DEFAULT_THRESHOLD)}
              onChange={(e) => setThreshold(e.currentTarget.value)}
              onBlur={() => {
                if (!(thresholdParsed instanceof Error)) {
                  update({ threshold: thresholdParsed });
                }
              }}
            />
          </InlineField>
        )}
        <InlineField label="Kind" labelWidth={8} tooltip="How live scoring reads the values">
          <Select
            width={14}
            options={KINDS}
            value={query.kind ?? 'auto'}
            onChange={(v) => update({ kind: v.value as Kind })}
          />
        </InlineField>
        <InlineField
          label="Max series"
          labelWidth={12}
          invalid={maxSeriesParsed instanceof Error}
          error={maxSeriesParsed instanceof Error ? maxSeriesParsed.message : undefined}
        >
          <Input
            width={10}
            value={maxSeries}
            placeholder="default"
            onChange={(e) => setMaxSeries(e.currentTarget.value)}
            onBlur={() => {
              if (!(maxSeriesParsed instanceof Error)) {
                update({ maxSeries: maxSeriesParsed });
              }
            }}
          />
        </InlineField>
        <InlineField label="Legend" labelWidth={10} tooltip="Series names from labels, e.g. {{job}} {{instance}}; empty for the full name">
          <Input
            width={24}
            value={legendFormat}
            placeholder="auto"
            onChange={(e) => setLegendFormat(e.currentTarget.value)}
            onBlur={() => update({ legendFormat: legendFormat.trim() === '' ? undefined : legendFormat })}
          />
        </InlineField>
        <InlineField label="Min step" labelWidth={10} tooltip="Smallest step between points, e.g. 30s or 1m">
          <Input
            width={10}
            value={minStep}
            placeholder="auto"
            onChange={(e) => setMinStep(e.currentTarget.value)}
            onBlur={() => update({ interval: minStep.trim() === '' ? undefined : minStep.trim() })}
          />
        </InlineField>
      </InlineFieldRow>
      <div style={{ opacity: 0.7, fontSize: 12 }}>{describe(query)}</div>
    </div>
  );
}
