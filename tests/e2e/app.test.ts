// The app in real Chromium: the engine worker opens WebGPU, loads the WGSL through Vite, and runs a UNet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { ViteDevServer } from 'vite';
import { launchChromium, startApp } from './browser';

let server: ViteDevServer;
let url: string;
let browser: Browser;

beforeAll(async () => {
  ({ server, url } = await startApp());
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('app in Chromium', () => {
  it('opens the GPU in the worker and times a UNet forward', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    const adapter = page.getByTestId('adapter');
    await expect.poll(() => adapter.textContent(), { timeout: 60_000 }).toMatch(/Adapter: /);
    await page.getByRole('button', { name: 'Time the tiny UNet forward' }).click();
    const row = page.getByTestId('timings').locator('tr').nth(1);
    await row.waitFor({ timeout: 120_000 });
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).toBe('tiny');
    expect(cells[1]).toBe('702,499');
    expect(Number(cells[3])).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
