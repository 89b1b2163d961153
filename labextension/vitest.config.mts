import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts', 'test/**/*.spec.tsx'],
    environment: 'jsdom',
    setupFiles: ['test/setup.ts'],
    server: {
      deps: {
        // @jupyterlab/ui-components' toolbar pulls these in; their ES modules
        // import files without extensions, which only Vite's resolver accepts.
        inline: [/@jupyter\/web-components/, /@microsoft\/fast-/]
      }
    }
  }
});
