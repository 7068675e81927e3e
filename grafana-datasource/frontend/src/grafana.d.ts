// The small part of Grafana's frontend API this plugin uses. Grafana provides these modules at
// run time (they are external to the bundle); declaring them here keeps the build free of the
// large @grafana/* packages. Signatures follow Grafana 10/11.

declare module '@grafana/data' {
  import type { ComponentType } from 'react';

  export interface DataQuery {
    refId: string;
    hide?: boolean;
    queryType?: string;
    datasource?: { type?: string; uid?: string } | null;
  }
  export interface DataSourceJsonData {
    [key: string]: unknown;
  }
  export type ScopedVars = Record<string, { text?: unknown; value: unknown }>;
  export interface SelectableValue<T = unknown> {
    label?: string;
    value?: T;
    description?: string;
  }
  export interface DataSourceInstanceSettings<T extends DataSourceJsonData = DataSourceJsonData> {
    id: number;
    uid: string;
    type: string;
    name: string;
    url?: string;
    jsonData: T;
  }
  export interface DataSourceSettings<T extends DataSourceJsonData = DataSourceJsonData, S = {}> {
    id: number;
    uid: string;
    url: string;
    basicAuth: boolean;
    basicAuthUser: string;
    jsonData: T;
    secureJsonData?: S;
    secureJsonFields: Record<string, boolean>;
    [key: string]: unknown;
  }
  export interface DataSourcePluginOptionsEditorProps<T extends DataSourceJsonData = DataSourceJsonData, S = {}> {
    options: DataSourceSettings<T, S>;
    onOptionsChange: (options: DataSourceSettings<T, S>) => void;
  }
  export interface QueryEditorProps<DS, Q extends DataQuery, J extends DataSourceJsonData = DataSourceJsonData> {
    datasource: DS;
    query: Q;
    onChange: (query: Q) => void;
    onRunQuery: () => void;
  }
  export class DataSourcePlugin<DS, Q extends DataQuery = DataQuery, J extends DataSourceJsonData = DataSourceJsonData, S = {}> {
    constructor(datasource: new (settings: DataSourceInstanceSettings<J>) => DS);
    setConfigEditor(editor: ComponentType<DataSourcePluginOptionsEditorProps<J, S>>): this;
    setQueryEditor(editor: ComponentType<QueryEditorProps<DS, Q, J>>): this;
  }
}

declare module '@grafana/runtime' {
  import type { DataQuery, DataSourceInstanceSettings, DataSourceJsonData, ScopedVars } from '@grafana/data';

  export class DataSourceWithBackend<Q extends DataQuery = DataQuery, J extends DataSourceJsonData = DataSourceJsonData> {
    constructor(settings: DataSourceInstanceSettings<J>);
    uid: string;
    name: string;
    annotations?: object;
    getResource<T = unknown>(path: string, params?: Record<string, unknown>): Promise<T>;
    applyTemplateVariables(query: Q, scopedVars: ScopedVars): Q;
    filterQuery?(query: Q): boolean;
    getDefaultQuery?(app: unknown): Partial<Q>;
  }
  export interface TemplateSrv {
    replace(target?: string, scopedVars?: ScopedVars, format?: string): string;
  }
  export function getTemplateSrv(): TemplateSrv;
}

declare module '@grafana/ui' {
  import type { ComponentType, ReactNode } from 'react';
  import type { DataSourceSettings, SelectableValue } from '@grafana/data';

  export const InlineField: ComponentType<{
    label: string;
    labelWidth?: number;
    tooltip?: string;
    grow?: boolean;
    invalid?: boolean;
    error?: string;
    children: ReactNode;
  }>;
  export const InlineFieldRow: ComponentType<{ children: ReactNode }>;
  export const Input: ComponentType<{
    value?: string | number;
    placeholder?: string;
    width?: number;
    type?: string;
    onChange?: (event: { currentTarget: { value: string } }) => void;
    onBlur?: () => void;
  }>;
  export const Select: ComponentType<{
    options: Array<SelectableValue<string>>;
    value?: string;
    width?: number;
    allowCustomValue?: boolean;
    onChange: (value: SelectableValue<string>) => void;
  }>;
  export const SecretInput: ComponentType<{
    isConfigured: boolean;
    value?: string;
    placeholder?: string;
    width?: number;
    onReset: () => void;
    onChange: (event: { currentTarget: { value: string } }) => void;
  }>;
  export const DataSourceHttpSettings: ComponentType<{
    defaultUrl: string;
    dataSourceConfig: DataSourceSettings<any, any>;
    onChange: (config: DataSourceSettings<any, any>) => void;
    showAccessOptions?: boolean;
  }>;
}
