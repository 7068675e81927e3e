// Bundles src/module.ts into ../dist/module.js (or --out PATH) as the AMD module Grafana's plugin loader expects.
// @grafana/* and react are provided by Grafana at run time and stay external.
import { build } from 'esbuild';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

const debug = process.argv.includes('--debug');
const outIndex = process.argv.indexOf('--out');
const outfile = outIndex > 0 ? process.argv[outIndex + 1] : '../dist/module.js';
const externals = ['@grafana/data', '@grafana/runtime', '@grafana/ui', 'react'];
const args = externals.map((_, i) => `__omen_ext${i}`);
const table = externals.map((name, i) => `${JSON.stringify(name)}: ${args[i]}`).join(', ');

await mkdir(dirname(outfile), { recursive: true });
await build({
  entryPoints: ['src/module.ts'],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'browser',
  target: 'es2020',
  jsx: 'transform',
  external: externals,
  minify: !debug,
  sourcemap: debug ? 'inline' : false,
  legalComments: 'none',
  banner: {
    js:
      `define(${JSON.stringify(externals)}, function (${args.join(', ')}) {\n` +
      `var module = { exports: {} }; var exports = module.exports;\n` +
      `var require = function (name) { var m = { ${table} }[name]; ` +
      `if (!m) { throw new Error('omen: unknown module ' + name); } return m; };`,
  },
  footer: { js: 'return module.exports;\n});' },
});
console.log(`built ${outfile}${debug ? ' (debug)' : ''}`);
