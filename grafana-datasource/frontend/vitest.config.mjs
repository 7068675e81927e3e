import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const mock = (name) => fileURLToPath(new URL(`./test/mocks/${name}.ts`, import.meta.url));

// Grafana's modules exist only inside Grafana; tests use small stand-ins.
export default defineConfig({
  resolve: {
    alias: {
      '@grafana/data': mock('data'),
      '@grafana/runtime': mock('runtime'),
      '@grafana/ui': mock('ui'),
    },
  },
  test: { include: ['test/**/*.test.ts'], environment: 'node' },
});
