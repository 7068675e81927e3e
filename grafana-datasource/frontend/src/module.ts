// Entry point Grafana loads: the datasource plugin with its query and config editors.
import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './ConfigEditor';
import { OmenDataSource } from './datasource';
import { QueryEditor } from './QueryEditor';
import type { OmenOptions, OmenQuery, OmenSecureOptions } from './types';

export const plugin = new DataSourcePlugin<OmenDataSource, OmenQuery, OmenOptions, OmenSecureOptions>(OmenDataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
