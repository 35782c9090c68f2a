// The helpers the studio's end-to-end tests share: the built app and Chromium for a test file, a
// fresh page on the engine, setting a control as a user does, reading a canvas, sampling and waiting.
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { afterAll, beforeAll, expect } from 'vitest';
import { launchChromium, startApp } from './browser';

export const LONG = { timeout: 240_000 };

export interface OpenPage {
  page: Page;
  /** Uncaught page errors and Content-Security-Policy violations. */
  errors: string[];
  /** The worker script's Content-Security-Policy header. */
  workerCsp: Promise<string | null>;
}

/** Builds and serves the app and starts Chromium for a test file (beforeAll), closing both after it. */
export function useStudio(): { open(query?: string, options?: BrowserContextOptions): Promise<OpenPage>; browser(): Browser; url(): string } {
  let server: PreviewServer | undefined, url = '', browser: Browser | undefined;
  beforeAll(async () => {
    ({ server, url } = await startApp());
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });
  return {
    browser: () => browser!,
    url: () => url,
    /** A fresh context on the app (with `query`), once the engine reports its adapter. */
    async open(query = '', options: BrowserContextOptions = {}) {
      const context = await browser!.newContext({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true, ...options });
      const page = await context.newPage();
      const errors: string[] = [];
      const workerCsp = page.waitForResponse(/engine\.worker/).then((r) => r.headerValue('content-security-policy'));
      page.on('pageerror', (e) => errors.push(e.message));
      // The app and its worker run under the page's Content-Security-Policy: a violation is an error.
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/.test(m.text())) errors.push(m.text());
      });
      await page.goto(url + query);
      await expect.poll(() => page.getByTestId('adapter').textContent(), { timeout: 120_000 }).toMatch(/Adapter: swiftshader/);
      return { page, errors, workerCsp };
    },
  };
}

/** Sets an input's value as a user would (input + change events). */
export async function setValue(page: Page, label: string, value: string): Promise<void> {
  const input = page.getByLabel(label, { exact: true });
  await input.fill(value);
  await input.dispatchEvent('change');
}

export async function canvasData(page: Page, testId: string): Promise<string> {
  return page.getByTestId(testId).evaluate((el) => (el.shadowRoot!.querySelector('canvas') as HTMLCanvasElement).toDataURL());
}

export async function frameCount(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).getAttribute('data-frame'));
}

/** Waits until the engine runs no job (the app's data-job attribute names the running one). */
export async function idle(page: Page): Promise<void> {
  await expect.poll(() => page.locator('ddim-app').getAttribute('data-job'), LONG).toBe(null);
}

/** Samples and waits for the result whose description matches `done`. */
export async function sample(page: Page, done: RegExp): Promise<void> {
  await page.getByRole('button', { name: 'Sample', exact: true }).click();
  await expect.poll(() => page.getByTestId('final').locator('xpath=..').textContent(), LONG).toMatch(done);
  await idle(page);
}

/** Clicks a button that downloads a file, and returns the file. */
export async function download(page: Page, button: string): Promise<{ name: string; bytes: Buffer }> {
  const event = page.waitForEvent('download');
  await page.getByRole('button', { name: button, exact: true }).click();
  const d = await event;
  return { name: d.suggestedFilename(), bytes: readFileSync((await d.path())!) };
}
