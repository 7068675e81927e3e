// Stand-in for @grafana/ui: components are never rendered in these tests.
const component = () => null;
export const InlineField = component;
export const InlineFieldRow = component;
export const Input = component;
export const Select = component;
export const SecretInput = component;
export const DataSourceHttpSettings = component;
