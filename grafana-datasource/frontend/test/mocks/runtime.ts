// Stand-in for @grafana/runtime: records resource calls and replaces $variables from a table.
export const resources: Record<string, unknown> = {};
export const variables: Record<string, string> = {};

export class DataSourceWithBackend {
  uid: string;
  name: string;
  constructor(settings: { uid: string; name: string }) {
    this.uid = settings.uid;
    this.name = settings.name;
  }
  async getResource(path: string): Promise<unknown> {
    if (!(path in resources)) {
      throw new Error(`no resource ${path}`);
    }
    return resources[path];
  }
}

export function getTemplateSrv() {
  return {
    replace: (text: string) => text.replace(/\$(\w+)/g, (_, name: string) => variables[name] ?? `$${name}`),
  };
}
