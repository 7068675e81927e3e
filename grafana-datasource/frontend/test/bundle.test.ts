// Loads the built dist/module.js the way Grafana's AMD loader does and checks what it exports.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { expect, it } from 'vitest';

import * as data from './mocks/data';
import * as runtime from './mocks/runtime';
import * as ui from './mocks/ui';

const root = fileURLToPath(new URL('..', import.meta.url));

it('dist/module.js is an AMD module exporting the plugin', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'omen-bundle-')), 'module.js');
  execFileSync('node', ['build.mjs', '--out', out], { cwd: root, stdio: 'pipe' });
  const code = readFileSync(out, 'utf8');
  let deps: string[] = [];
  let exported: any;
  const react = { createElement: () => null, useState: (v: unknown) => [v, () => {}], useEffect: () => {} };
  const define = (names: string[], factory: (...modules: unknown[]) => unknown) => {
    deps = names;
    const table: Record<string, unknown> = { '@grafana/data': data, '@grafana/runtime': runtime, '@grafana/ui': ui, react };
    exported = factory(...names.map((n) => table[n]));
  };
  vm.runInNewContext(code, { define, console });
  expect(deps).toEqual(['@grafana/data', '@grafana/runtime', '@grafana/ui', 'react']);
  expect(exported.plugin).toBeInstanceOf(data.DataSourcePlugin);
  expect(typeof exported.plugin.queryEditor).toBe('function');
  expect(typeof exported.plugin.configEditor).toBe('function');
});
