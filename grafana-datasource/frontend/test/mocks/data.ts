// Stand-in for @grafana/data.
export class DataSourcePlugin {
  constructor(public datasource: unknown) {}
  configEditor?: unknown;
  queryEditor?: unknown;
  setConfigEditor(editor: unknown) {
    this.configEditor = editor;
    return this;
  }
  setQueryEditor(editor: unknown) {
    this.queryEditor = editor;
    return this;
  }
}
