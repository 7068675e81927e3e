import React from 'react';
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { DataSourceHttpSettings, InlineField, Input, SecretInput, Select } from '@grafana/ui';

import { SOURCES, type OmenOptions, type OmenSecureOptions, type Source } from './types';

type Props = DataSourcePluginOptionsEditorProps<OmenOptions, OmenSecureOptions>;

/** Prometheus URL and authentication, plus the datasource's limits and default source. */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const jsonData = options.jsonData;
  const setJson = (patch: Partial<OmenOptions>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });
  const bearerConfigured = Boolean(options.secureJsonFields?.bearerToken);

  return (
    <div>
      <DataSourceHttpSettings
        defaultUrl="http://localhost:9090"
        dataSourceConfig={options}
        onChange={onOptionsChange}
        showAccessOptions={false}
      />
      <h3>Omen</h3>
      <InlineField label="Bearer token" labelWidth={20} tooltip="Sent as Authorization: Bearer; leave empty for none">
        <SecretInput
          width={40}
          isConfigured={bearerConfigured}
          value={options.secureJsonData?.bearerToken ?? ''}
          placeholder="token"
          onReset={() =>
            onOptionsChange({
              ...options,
              jsonData: { ...jsonData, bearerAuth: false },
              secureJsonFields: { ...options.secureJsonFields, bearerToken: false },
              secureJsonData: { ...options.secureJsonData, bearerToken: '' },
            })
          }
          onChange={(e) =>
            onOptionsChange({
              ...options,
              jsonData: { ...jsonData, bearerAuth: e.currentTarget.value !== '' },
              secureJsonData: { ...options.secureJsonData, bearerToken: e.currentTarget.value },
            })
          }
        />
      </InlineField>
      <InlineField label="Timeout (s)" labelWidth={20}>
        <Input
          width={10}
          type="number"
          value={jsonData.timeoutSeconds ?? 30}
          onChange={(e) => setJson({ timeoutSeconds: Number(e.currentTarget.value) || undefined })}
        />
      </InlineField>
      <InlineField label="Max series per query" labelWidth={20}>
        <Input
          width={10}
          type="number"
          value={jsonData.maxSeries ?? 100}
          onChange={(e) => setJson({ maxSeries: Number(e.currentTarget.value) || undefined })}
        />
      </InlineField>
      <InlineField label="Default source" labelWidth={20}>
        <Select
          width={30}
          options={SOURCES.filter((s) => s.value !== '')}
          value={jsonData.defaultSource ?? 'live'}
          onChange={(v) => setJson({ defaultSource: v.value as Source })}
        />
      </InlineField>
    </div>
  );
}
