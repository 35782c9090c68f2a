// Headless Debian Chromium with WebGPU (SwiftShader here), driven by playwright-core, against the
// built app (vite build into a temporary folder, served by vite preview on a free localhost port).
// Also used outside vitest (tools/screenshots.ts); the tests' helpers are in studio-page.ts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function startApp(): Promise<{ server: PreviewServer; url: string }> {
  const outDir = mkdtempSync(join(tmpdir(), 'ddim-app-'));
  await build({ logLevel: 'error', build: { outDir, emptyOutDir: true } });
  const server = await preview({ logLevel: 'error', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('vite preview: no listening address');
  return { server, url: `http://127.0.0.1:${address.port}/` };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader',
      '--no-sandbox', '--disable-gpu-sandbox', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--disable-dev-shm-usage',
    ],
  });
}

