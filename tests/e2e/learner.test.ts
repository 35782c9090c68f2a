// The learner's studio in real Chromium (WebGPU on SwiftShader), on the built app: a copied link
// reproduces the same pixels in a fresh context and a malformed one falls back with a note; Step
// runs exactly one step and shows the numbers stepCoefficients gives; the denoising GIF has a frame
// per step; an exported PNG's settings come back when it is dropped on the page; the comparison grid
// fills its cells; DDIM inversion reports its reconstruction PSNR; the page works at 390 px, by
// keyboard and in dark mode (screenshots: SCREENSHOTS=docs/screenshots).
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { stepCoefficients } from '../../src/diffusion/samplers';
import { alphaBars, betaSchedule } from '../../src/diffusion/schedule';
import { toReferenceLayout } from '../../src/io/convert';
import { readPngText } from '../../src/io/png';
import { parseSafetensors } from '../../src/io/safetensors';
import { PNG_SETTINGS_KEY } from '../../src/ui/sample-link';
import { LONG, canvasData, download, idle, setValue, useStudio } from './studio-page';

const studio = useStudio();
const bundled = toReferenceLayout(parseSafetensors(readFileSync('public/models/emoji16.safetensors'), 'emoji16'), 'emoji16');
const abar = alphaBars(betaSchedule(bundled.diffusion));
// SCREENSHOTS=docs/screenshots refreshes the README's screenshots; otherwise they go to a temporary folder.
const SHOTS = process.env.SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'ddim-shots-'));


describe("the learner's studio", () => {
  it('steps through a chain with its numbers, exports a GIF and a PNG whose settings a drop restores, and reproduces the pixels from a copied link', { timeout: 480_000 }, async () => {
    const { page, errors } = await studio.open('?steps=2&batch=1&seed=7&eta=0&clip=0&sampler=generalized&skip=uniform');
    // The link's settings are the controls' (and the timesteps they run).
    await expect.poll(() => page.getByLabel('Seed', { exact: true }).inputValue()).toBe('7');
    expect(await page.getByTestId('chain').textContent()).toBe('runs 2 steps: t = 500, 0');
    expect(await page.getByTestId('settings-notes').textContent()).toMatch(/Settings restored from the link/);
    await expect.poll(() => page.locator('schedule-chart').locator('line.tick').count()).toBe(2);

    // Step: exactly one step, with the sampler's own coefficients.
    await page.getByRole('button', { name: 'Step', exact: true }).click();
    const numbers = page.getByTestId('step-numbers').first();
    await expect.poll(() => numbers.count(), LONG).toBe(1);
    await idle(page);
    expect(await page.getByTestId('progress').textContent()).toMatch(/step 1\/2 · t = 500/);
    const [expected] = stepCoefficients([0, 500], abar, { sampler: 'generalized', eta: 0, clipX0: false, useClippedModelOutput: false });
    const shown = JSON.parse((await numbers.getAttribute('data-coefficients'))!) as number[];
    expect(shown.slice(0, 2)).toEqual([500, 0]);
    shown.slice(2).forEach((v, i) => expect(v).toBeCloseTo([expected!.a, expected!.b, expected!.c, expected!.d][i]!, 12));
    expect(await numbers.textContent()).toMatch(/step 1\/2: t = 500 → 0; abar_t = 0\.0\d+/);
    await expect.poll(() => page.locator('schedule-chart').getByTestId('schedule-current').getAttribute('data-t')).toBe('500');
    expect(await page.getByRole('button', { name: 'Step 2/2' }).count()).toBe(1);

    // Another model ends the paused chain (Continue would run a model the controls no longer show);
    // back on this one, Step starts the chain again.
    const model = page.getByLabel('Model', { exact: true });
    await model.selectOption({ label: 'Layered 16 px, layer loss (bundled)' });
    await expect.poll(() => page.getByRole('button', { name: 'Continue' }).isDisabled()).toBe(true);
    await model.selectOption({ label: 'Emoji 16 px (bundled)' });
    expect(await page.getByRole('button', { name: 'Continue' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Step', exact: true }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Step 2/2' }).count(), LONG).toBe(1);
    await idle(page);

    // Continue runs the rest; the result is the chain's.
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.getByTestId('final').locator('xpath=..').textContent(), LONG).toMatch(/latest: generalized, eta 0\.00, 2 steps \(uniform\), seed 7$/m);
    await idle(page);
    const pixels = await canvasData(page, 'final');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/sample-step.png`, fullPage: true });

    // The denoising as a GIF: one frame per step.
    const gif = await download(page, 'Export denoising GIF');
    expect(gif.name).toBe('denoising.gif');
    expect((await sharp(gif.bytes, { pages: -1 }).metadata()).pages).toBe(2);

    // The exported PNG carries the settings; dropped back on the page, it restores them.
    const png = await download(page, 'Export grid PNG');
    expect(readPngText(png.bytes, png.name).get(PNG_SETTINGS_KEY)).toBe('model=emoji16&sampler=generalized&steps=2&eta=0&skip=uniform&seed=7&batch=1&clip=0&precision=fp32');
    // One 16 px sample, scaled up (nearest neighbour) to a usable size.
    expect((await sharp(png.bytes).metadata()).width).toBe(256);
    await setValue(page, 'Seed', '99');
    await setValue(page, 'Steps', '5');
    const drop = await page.evaluateHandle((bytes) => {
      const t = new DataTransfer();
      t.items.add(new File([new Uint8Array(bytes)], 'samples.png', { type: 'image/png' }));
      return t;
    }, [...png.bytes]);
    await page.locator('sample-studio').locator('section').first().dispatchEvent('drop', { dataTransfer: drop });
    await expect.poll(() => page.getByLabel('Seed', { exact: true }).inputValue()).toBe('7');
    expect(await page.getByTestId('settings-notes').textContent()).toMatch(/Settings restored from samples\.png/);
    expect(await page.getByTestId('chain').textContent()).toBe('runs 2 steps: t = 500, 0');

    // A copied link, opened in a fresh context, gives the same pixels; its chain runs at once, so this
    // also checks that the chain stepped above (Step, then Continue) is the chain run whole.
    await page.getByRole('button', { name: 'Copy link' }).click();
    await expect.poll(() => page.getByTestId('link-state').textContent()).toMatch(/Link copied|Copy this link/);
    const link = new URL(page.url());
    expect(Object.fromEntries(link.searchParams)).toEqual({ model: 'emoji16', sampler: 'generalized', steps: '2', eta: '0', skip: 'uniform', seed: '7', batch: '1', clip: '0', precision: 'fp32' });
    expect(errors).toEqual([]);
    await page.context().close();

    const other = await studio.open(link.search);
    await other.page.getByRole('button', { name: 'Sample', exact: true }).click();
    await expect.poll(() => other.page.getByTestId('final').count(), LONG).toBe(1);
    await idle(other.page);
    expect(await canvasData(other.page, 'final')).toBe(pixels);
    await other.page.context().close();
  });

  it('falls back from a malformed link with a note; compares settings in a grid; inverts an image; works at 390 px, by keyboard and in dark mode', { timeout: 480_000 }, async () => {
    const { page, errors } = await studio.open('?steps=many&batch=999&seed=3&model=sdxl', { viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    const notes = page.getByTestId('settings-notes');
    await expect.poll(() => notes.textContent()).toMatch(/were not used.*model="sdxl" ignored.*steps="many" ignored.*batch="999" ignored/s);
    expect(await page.getByLabel('Seed', { exact: true }).inputValue()).toBe('3');
    expect(await page.getByLabel('Batch size', { exact: true }).inputValue()).toBe('4');

    // Keyboard: Tab reaches the controls, the focused one is outlined, Enter on a tab switches it.
    await page.locator('body').press('Tab');
    await page.keyboard.press('Tab');
    const focus = await page.evaluate(() => {
      let el: Element | null = document.activeElement;
      while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
      return el ? { tag: el.tagName, outline: getComputedStyle(el).outlineStyle } : null;
    });
    expect(focus?.outline).toBe('solid');
    // Nothing is wider than the phone's screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(17, 20, 25)');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: `${SHOTS}/sample-390-dark.png`, fullPage: true });

    // The comparison grid: steps x Clip x0, one sample per cell.
    await page.getByLabel('Columns setting', { exact: true }).selectOption('clipX0');
    await setValue(page, 'Rows values', '1, 2');
    await page.getByRole('button', { name: 'Compare' }).click();
    await expect.poll(() => page.getByTestId('compare-grid').locator('pixel-grid').count(), LONG).toBe(4);
    await idle(page);
    expect(await page.getByTestId('compare-grid').textContent()).toMatch(/clip off.*clip on.*1 steps.*ms\/step.*2 steps/s);
    const grid = await download(page, 'Export comparison PNG');
    expect(readPngText(grid.bytes, grid.name).get('ddim-webgpu-grid')).toBe('rows=steps:1,2; columns=clipX0:false,true');

    // Inversion in the Denoise tab, on a held-out emoji. The tabs follow the ARIA pattern: the arrow
    // keys move between them (End and Home to the ends).
    await page.getByRole('tab', { name: 'Sample' }).focus();
    await page.keyboard.press('End');
    await expect.poll(() => page.getByRole('tab', { name: 'Models' }).getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.getByRole('tab', { name: 'Denoise' }).getAttribute('aria-selected')).toBe('true');
    // At 390 px every tab's name is whole (none cut off).
    for (const name of ['Sample', 'Denoise', 'Train', 'Research', 'Models']) {
      const box = (await page.getByRole('tab', { name }).boundingBox())!;
      expect(box.x + box.width, name).toBeLessThanOrEqual(390);
    }
    // The held-out picker works by keyboard too.
    const picker = page.getByTestId('picker');
    await picker.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => picker.getAttribute('label')).toMatch(/#13 picked/);
    await setValue(page, 'Inversion steps', '3');
    await setValue(page, 'Re-sample steps', '2');
    await setValue(page, 'Re-sample eta', '1');
    await page.getByRole('button', { name: 'Invert' }).click();
    await expect.poll(() => page.getByTestId('inversion-psnr').count(), LONG).toBe(1);
    expect(await page.getByTestId('inversion-psnr').textContent()).toMatch(/^\d+\.\d\d dB$/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${SHOTS}/denoise-390-dark.png`, fullPage: true });
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
