import { defineConfig } from 'vite';

// Bundles the Node command line into one file (dist/cli/ddim.mjs): WGSL comes in
// through the same `?raw` imports as in the browser, and only the native `webgpu` and `sharp` stay external.
export default defineConfig({
  // The CLI reads public/ in place (src/cli/files.ts); nothing is copied beside the bundle.
  publicDir: false,
  build: {
    ssr: 'src/cli/main.ts',
    outDir: 'dist/cli',
    target: 'node20',
    minify: false,
    emptyOutDir: true,
    rollupOptions: {
      external: ['webgpu', 'sharp'],
      output: { entryFileNames: 'ddim.mjs', format: 'es' },
    },
  },
  ssr: { noExternal: true, external: ['webgpu', 'sharp'] },
});
