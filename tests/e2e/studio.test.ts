// The studio in real Chromium (WebGPU on SwiftShader), on the built app: sampling with the bundled
// model, determinism, Stop, the Denoise view, training with a reload and resume, model import and
// export, bad files, responsiveness, the Research tab's experiments, and the page shown without WebGPU.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { readPngText } from '../../src/io/png';
import { LONG, canvasData, download, frameCount, idle, sample, setValue, useStudio } from './studio-page';

const studio = useStudio();
const open = (query = '') => studio.open(query);

/** Records main-thread click latency (event creation to handler) in the page. */
async function watchClicks(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { clickLatency: number[] };
    w.clickLatency = [];
    document.addEventListener('click', (e) => w.clickLatency.push(performance.now() - e.timeStamp), true);
  });
}

/** The RGBA bytes a pixel-grid shows (its canvas at 1:1). */
async function canvasPixels(page: Page, testId: string): Promise<number[]> {
  return page.getByTestId(testId).evaluate((el) => {
    const c = el.shadowRoot!.querySelector('canvas') as HTMLCanvasElement;
    return [...c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data];
  });
}

async function clickLatencies(page: Page): Promise<number[]> {
  return page.evaluate(() => (window as unknown as { clickLatency: number[] }).clickLatency);
}

describe('sample studio', () => {
  it('updates x_t and x0 at every step; same seed and eta 0 repeats exactly, eta 1 differs; Stop stops; clicks stay fast; runs under the CSP', { timeout: 480_000 }, async () => {
    const { page, errors, workerCsp } = await open();
    await setValue(page, 'Batch size', '1');
    await setValue(page, 'Steps', '2');
    // The controls say which timesteps will run (the reference's uniform skip: Steps 3 runs 4 steps).
    expect(await page.getByTestId('chain').textContent()).toBe('runs 2 steps: t = 500, 0');
    await setValue(page, 'Steps', '3');
    expect(await page.getByTestId('chain').textContent()).toBe('runs 4 steps: t = 999, 666, 333, 0');
    await setValue(page, 'Steps', '2');
    await sample(page, /latest: generalized, eta 0\.00, 2 steps \(uniform\), seed 0/);
    expect(await page.getByTestId('progress').textContent()).toMatch(/step 2\/2 · t = 0 · [\d.]+ ms\/step/);
    // SwiftShader takes far longer than a frame per step, so every step is drawn.
    expect(await frameCount(page, 'xt')).toBe(2);
    expect(await frameCount(page, 'x0')).toBe(2);
    const first = await canvasData(page, 'final');
    await sample(page, /latest: generalized, eta 0\.00, 2 steps/);
    expect(await canvasData(page, 'final')).toBe(first);
    expect(await canvasData(page, 'previous')).toBe(first);

    // An idle slider change re-renders with the same seed, the previous result beside it.
    await setValue(page, 'eta', '1');
    await expect.poll(() => page.getByTestId('final').locator('xpath=..').textContent(), LONG).toMatch(/eta 1\.00/);
    await idle(page);
    expect(await canvasData(page, 'final')).not.toBe(first);
    expect(await canvasData(page, 'previous')).toBe(first);
    expect(await page.getByTestId('first-step-table').locator('tr').count()).toBe(2);

    // A slider moved while that re-render runs stops it and samples the newest settings: the stopped
    // chain is neither shown nor kept, and the previous result stays.
    const shownBefore = await canvasData(page, 'final');
    await setValue(page, 'Steps', '500'); // a chain no adapter finishes before the next change lands
    await expect.poll(() => page.getByTestId('job-sample').getByTestId('job-status').textContent(), LONG).toMatch(/of 500/);
    await setValue(page, 'Steps', '3');
    await expect.poll(() => page.getByTestId('final').locator('xpath=..').textContent(), LONG).toMatch(/latest: generalized, eta 1\.00, 3 steps \(uniform\), seed 0$/m);
    await idle(page);
    expect(await canvasData(page, 'previous')).toBe(shownBefore);
    expect(await page.getByTestId('progress').textContent()).toMatch(/step 4\/4 · t = 0 · [\d.]+ ms\/step$/);

    // A longer chain: the page answers clicks while it runs, shows an ETA from its first step on, and Stop ends it early.
    await watchClicks(page);
    await setValue(page, 'Steps', '10');
    const status = page.getByTestId('job-sample').getByTestId('job-status');
    await expect.poll(() => status.textContent(), LONG).toMatch(/ETA/);
    // The ETA shows within the first 3 steps (from the first, here: an upper bound while the one
    // step measured includes the start-up, then with the rate).
    expect(Number((await status.textContent())!.match(/^step (\d+) of 10 · t = \d+ · ([\d.]+ (s\/step|steps\/s) · ETA \d|ETA ≤ \d.* \(the first step included start-up\))/)![1])).toBeLessThanOrEqual(3);
    for (let i = 0; i < 5; i++) await page.getByRole('heading', { name: 'Sample' }).click();
    await page.getByRole('button', { name: 'Stop sampling', exact: true }).click();
    await expect.poll(() => page.getByTestId('final').locator('xpath=..').textContent(), LONG).toMatch(/10 steps \(uniform\), seed 0 \(stopped\)/);
    const done = Number((await page.getByTestId('progress').textContent())!.match(/step (\d+)\/10/)![1]);
    expect(done).toBeLessThan(10);
    await idle(page);

    // The tab's state outlives the view: every other tab, then back; the same results and film, the
    // stopped chain still waiting, and the grid exported from them without sampling again.
    const shown = { final: await canvasPixels(page, 'final'), film: await canvasData(page, 'filmstrip'), progress: await page.getByTestId('progress').textContent() };
    for (const tab of ['Denoise', 'Train', 'Research', 'Models', 'Sample']) {
      await page.getByRole('tab', { name: tab }).click();
      await expect.poll(() => page.getByRole('tab', { name: tab }).getAttribute('aria-selected')).toBe('true');
    }
    expect(await canvasPixels(page, 'final')).toEqual(shown.final);
    expect(await canvasData(page, 'filmstrip')).toBe(shown.film);
    expect(await page.getByTestId('progress').textContent()).toBe(shown.progress);
    expect(shown.progress).toMatch(/paused at step \d+ of 10/);
    expect(await page.getByTestId('settings-notes').count()).toBe(0); // no link set anything
    const png = await download(page, 'Export grid PNG');
    const { data, info } = await sharp(png.bytes).raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBeGreaterThanOrEqual(256);
    // Every pixel of the 16 px sample is an info.width / 16 square of the export.
    const scale = info.width / 16;
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) {
        const e = ((y * scale + scale / 2) * info.width + x * scale + scale / 2) * info.channels;
        expect([data[e], data[e + 1], data[e + 2]]).toEqual(shown.final.slice((y * 16 + x) * 4, (y * 16 + x) * 4 + 3));
      }
    }
    const latencies = await clickLatencies(page);
    expect(latencies.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...latencies)).toBeLessThan(100);
    expect(errors).toEqual([]);
    // Page and worker run under the Content-Security-Policy: a connection elsewhere is refused.
    expect(await workerCsp).toMatch(/connect-src 'self'/);
    expect(await workerCsp).not.toMatch(/unsafe-eval/); // the bench page's allowance stays the bench page's
    expect(await page.evaluate(() => fetch('http://127.0.0.2:9/').then(() => 'sent', (e: unknown) => String(e)))).toMatch(/Failed to fetch/);
    await expect.poll(() => errors.some((e) => /Refused to connect/.test(e))).toBe(true);
    await page.context().close();
  });
});

describe('precision tiers in the page', () => {
  it('runs the tier a link asks for, carries it in the link and the exported PNG, and says why it cannot run one', { timeout: 480_000 }, async () => {
    const { page, errors } = await open('?precision=matrix-emulated&steps=2&batch=1');
    await expect.poll(() => page.getByTestId('tier').textContent()).toBe('precision matrix-emulated');
    await sample(page, /latest: generalized, eta 0\.00, 2 steps \(uniform\), seed 0/);
    expect(new URL(page.url()).searchParams.get('precision')).toBe('matrix-emulated');
    const png = await download(page, 'Export grid PNG');
    expect(readPngText(new Uint8Array(png.bytes), png.name).get('ddim-webgpu')).toMatch(/(^|&)precision=matrix-emulated(&|$)/);
    expect(errors).toEqual([]);
    await page.context().close();

    // SwiftShader has no shader-f16: the page runs in fp32 and names the missing feature.
    const f16 = await open('?precision=f16');
    await expect.poll(() => f16.page.getByTestId('tier').textContent()).toBe('precision fp32');
    expect(await f16.page.getByTestId('tier-note').textContent()).toMatch(/precision f16 needs the adapter feature shader-f16, which swiftshader/);
    await f16.page.context().close();
  });
});

describe('a lost GPU', () => {
  it('says what happened, reconnects, and samples again on the new device', { timeout: 480_000 }, async () => {
    const { page, errors } = await open('?debug');
    await setValue(page, 'Batch size', '1');
    await setValue(page, 'Steps', '2');
    await sample(page, /latest: generalized, eta 0\.00, 2 steps \(uniform\), seed 0/);
    const before = await canvasData(page, 'final');
    // As a driver reset would: the worker's device is destroyed under the app.
    await page.evaluate(() => (window as unknown as { ddimDebug: { loseDevice: () => Promise<void> } }).ddimDebug.loseDevice());
    await expect.poll(() => page.getByTestId('gpu-notice').textContent(), LONG).toMatch(/The GPU device was lost \(destroyed/);
    await expect.poll(() => page.getByTestId('gpu-notice').textContent(), LONG).toMatch(/The engine reconnected to swiftshader/);
    await sample(page, /latest: generalized, eta 0\.00, 2 steps \(uniform\), seed 0/);
    expect(await canvasData(page, 'final')).toBe(before);
    await page.getByTestId('gpu-notice').getByRole('button', { name: 'Dismiss' }).click();
    expect(await page.getByTestId('gpu-notice').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe('denoise view', () => {
  it('shows x_t, the one-shot x0, the chain and their scores', { timeout: 480_000 }, async () => {
    const { page, errors } = await open();
    await page.getByRole('tab', { name: 'Denoise' }).click();
    await page.getByTestId('picker').waitFor(LONG);
    await setValue(page, 't', '600');
    await setValue(page, 'Chain steps', '2');
    await page.getByRole('button', { name: 'Denoise', exact: true }).click();
    const table = page.getByTestId('denoise-scores');
    await table.waitFor(LONG);
    const text = (await table.textContent())!;
    expect(text).toMatch(/one-shot x0\d\.\d{4}\d+\.\d{2} dB/);
    expect(text).toMatch(/chain \(2 steps\)\d\.\d{4}\d+\.\d{2} dB/);
    // The label counts the steps the chain ran: from t = 3, 10 asked are 4 (t = 3, 2, 1, 0).
    await setValue(page, 't', '3');
    await setValue(page, 'Chain steps', '10');
    await page.getByRole('button', { name: 'Denoise', exact: true }).click();
    await expect.poll(() => table.textContent(), LONG).toMatch(/chain \(4 steps\)/);
    expect(await table.locator('td', { hasText: 'chain (4 steps)' }).getAttribute('title')).toBe('t = 3, 2, 1, 0');
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe('train studio', () => {
  it('trains a small model with a falling loss, survives a reload and resumes at the saved step', { timeout: 480_000 }, async () => {
    const { page, errors } = await open();
    // A long chain runs first: Train is queued behind it, shown on the Train tab, and not clickable twice.
    await setValue(page, 'Batch size', '1');
    await setValue(page, 'Steps', '1000');
    await page.getByRole('button', { name: 'Sample', exact: true }).click();
    await expect.poll(() => page.locator('ddim-app').getAttribute('data-job'), LONG).toBe('sampling');
    await page.getByRole('tab', { name: 'Train' }).click();
    await setValue(page, 'ch_mult', '1');
    await setValue(page, 'attn_resolutions', '');
    await setValue(page, 'Training batch size', '2');
    await setValue(page, 'Learning rate', '0.003');
    await setValue(page, 'Training steps', '8');
    // Settings that cannot work are named before anything runs; the run is measured against the recipe.
    await setValue(page, 'Warmup steps', '200');
    expect(await page.getByTestId('train-warnings').textContent()).toMatch(/Warmup \(200 steps\) is as long as the run \(8 steps\)/);
    await setValue(page, 'Warmup steps', '0');
    expect(await page.getByTestId('train-warnings').count()).toBe(0);
    await setValue(page, 'Checkpoint every', '2');
    await setValue(page, 'Preview every', '8');
    await setValue(page, 'Run name', 'e2e run');
    await expect.poll(() => page.getByTestId('model-size').textContent(), LONG).toMatch(/[\d,]+ parameters · [\d.]+ MiB of GPU memory at batch 2 \(16 px\)/);
    expect(await page.getByTestId('train-expectation').textContent()).toMatch(/needs ~72,000 image evaluations.*This run: 8 steps x batch 2 = 16, 0% of what a recognisable model needs: expect noise/);
    await watchClicks(page);
    const train = page.getByRole('button', { name: 'Train', exact: true });
    await train.click();
    await page.getByTestId('job-conflict').getByRole('button', { name: 'Start training after it' }).click();
    await expect.poll(() => page.locator('train-studio').getByTestId('queued').textContent(), LONG).toMatch(/then training \(Train tab\)/);
    expect(await train.isDisabled()).toBe(true);
    await page.getByTestId('job').getByRole('button', { name: 'Stop sampling' }).click();
    await expect.poll(() => page.getByTestId('train-status').textContent(), LONG).toMatch(/starting at step 0\/8|running · step [1-7]\/8/);
    for (let i = 0; i < 3; i++) await page.getByRole('heading', { name: 'Model' }).click();

    // The job belongs to its tab: the Sample tab has no Stop for it, the header names it with its own
    // Stop and an ETA from its first step, and starting a chain asks first (Cancel leaves training alone).
    await page.getByRole('tab', { name: 'Sample' }).click();
    const header = page.getByTestId('job');
    // (After one step the ETA is an upper bound, start-up included, and no rate is shown yet.)
    await expect.poll(() => header.textContent(), LONG).toMatch(/Training\s*\(Train tab\).*step [1-7] of 8 · ([\d.]+ (s\/step|steps\/s) · ETA \d|ETA ≤ \d.* \(the first step included start-up\))/s);
    expect(await page.getByTestId('job-sample').count()).toBe(0);
    await page.getByRole('button', { name: 'Sample', exact: true }).click();
    const ask = page.getByTestId('job-conflict');
    await expect.poll(() => ask.textContent()).toMatch(/training \(Train tab\) is running\. Start sampling anyway\?/);
    await ask.getByRole('button', { name: 'Cancel' }).click();
    expect(await ask.count()).toBe(0);
    expect(await page.locator('ddim-app').getAttribute('data-job')).toBe('training');

    // A tab first shown mid-job (Denoise sits before Train) leaves the Train tab as it was: its
    // fields, and the live view of its job.
    await page.getByRole('tab', { name: 'Denoise' }).click();
    await page.getByTestId('picker').waitFor(LONG);
    await page.getByRole('tab', { name: 'Train' }).click();
    expect(await page.getByLabel('Run name', { exact: true }).inputValue()).toBe('e2e run');
    await expect.poll(() => page.getByTestId('train-status').textContent(), LONG).toMatch(/running · step [1-7]\/8/);

    // Pause is acknowledged at once and lands at the next step, with a checkpoint there.
    await page.getByRole('button', { name: 'Pause training', exact: true }).click();
    expect(await page.getByTestId('job-train').getByTestId('job-status').textContent()).toMatch(/^pausing after step \d of 8…$/);
    await expect.poll(() => page.getByTestId('train-status').textContent(), LONG).toMatch(/paused · step [1-7]\/8 · saved at step [1-7]/);
    const paused = Number((await page.getByTestId('train-status').textContent())!.match(/paused · step (\d)\/8 · saved at step \1/)![1]);
    expect(Math.max(...(await clickLatencies(page)))).toBeLessThan(100);

    await page.reload();
    await page.getByTestId('adapter').filter({ hasText: 'Adapter' }).waitFor(LONG);
    await page.getByRole('tab', { name: 'Train' }).click();
    // The form comes back as it was typed.
    expect(await page.getByLabel('Run name', { exact: true }).inputValue()).toBe('e2e run');
    expect(await page.getByLabel('Training steps').inputValue()).toBe('8');
    const row = page.getByTestId('runs').locator('tr', { hasText: 'e2e run' });
    await expect.poll(() => row.textContent(), LONG).toMatch(new RegExp(`${paused}/8`));
    // After the reload the run is shown as it was left: its losses and its saved step.
    await expect.poll(() => page.getByTestId('train-status').textContent(), LONG).toMatch(new RegExp(`paused · step ${paused}/8 · saved at step ${paused} .*Resume continues it`));
    expect(await page.getByTestId('loss-chart').evaluate((el) => (el as unknown as { points: unknown[] }).points.length)).toBe(paused);
    // Resume sits beside the status too, naming where it continues.
    await page.getByTestId('resume-shown').filter({ hasText: `Resume from step ${paused}` }).click();
    await expect.poll(() => page.getByTestId('train-status').textContent(), LONG).toMatch(/done · step 8\/8 · saved at step 8/);
    // A finished run has nothing to resume.
    await expect.poll(() => row.getByRole('button', { name: 'Resume' }).isDisabled(), LONG).toBe(true);
    const losses = await page.getByTestId('loss-chart').evaluate((el) => (el as unknown as { points: { y: number }[] }).points.map((p) => p.y));
    expect(losses).toHaveLength(8);
    const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)));
    // The done run's preview says that noise is what 16 evaluations give.
    expect(await page.getByTestId('preview-caption').textContent()).toMatch(/EMA samples at step 8 \(16 image evaluations.*noise is expected this early/);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe('your images', () => {
  it('decodes dropped files into IndexedDB, lists them with thumbnails, survives a reload and removes them', { timeout: 480_000 }, async () => {
    const { page, errors } = await open();
    await page.getByRole('tab', { name: 'Train' }).click();
    const png = (r: number, g: number, b: number, w: number, h: number) =>
      sharp({ create: { width: w, height: h, channels: 4, background: { r, g, b, alpha: 1 } } }).png().toBuffer();
    await page.getByLabel('Add images').setInputFiles([
      { name: 'red.png', mimeType: 'image/png', buffer: await png(255, 0, 0, 80, 40) },
      { name: 'green.png', mimeType: 'image/png', buffer: await png(0, 200, 0, 30, 90) },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') },
      { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('PNG? no') },
    ]);
    await expect.poll(() => page.getByTestId('import-message').textContent(), LONG).toMatch(/added 2 images; skipped 2:/);
    // Every skipped file is listed, with why.
    expect(await page.getByTestId('import-message').locator('ul.errors li').allTextContents()).toEqual([
      'notes.txt: not a PNG, JPEG or WebP file', expect.stringMatching(/^broken\.png: cannot decode as an image/),
    ]);
    // Only the centre square is kept, and an image that loses much to it says so.
    expect(await page.getByTestId('import-notes').locator('li').allTextContents()).toEqual([
      'red.png: 80 x 40 pixels, cropped to its centre 40 x 40 square', 'green.png: 30 x 90 pixels, cropped to its centre 30 x 30 square',
    ]);
    await expect.poll(() => page.getByTestId('image-count').textContent()).toMatch(/^2 images of yours/);
    // Images just added are what the next run trains on, and the form says so after a reload too.
    expect(await page.getByLabel('Dataset').inputValue()).toBe('user32');
    await page.reload();
    await page.getByTestId('adapter').filter({ hasText: 'Adapter' }).waitFor(LONG);
    await page.getByRole('tab', { name: 'Train' }).click();
    await expect.poll(() => page.getByTestId('image-count').textContent(), LONG).toMatch(/^2 images of yours/);
    expect(await page.getByLabel('Dataset').inputValue()).toBe('user32');
    await page.getByRole('button', { name: 'Remove red.png' }).click();
    await expect.poll(() => page.getByTestId('image-count').textContent()).toMatch(/^1 image of yours/);
    // The same image again is named and skipped; Remove all asks, then empties the set.
    await page.getByLabel('Add images').setInputFiles([{ name: 'green-again.png', mimeType: 'image/png', buffer: await png(0, 200, 0, 30, 90) }]);
    await expect.poll(() => page.getByTestId('import-message').textContent(), LONG).toMatch(/added 0 images; skipped 1:\s*green-again\.png: the same image as green\.png, already among yours/);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Remove all' }).click();
    await expect.poll(() => page.getByTestId('image-count').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe('model library', () => {
  it('exports the bundled model, re-imports it with identical samples, and refuses a broken file without touching the library', { timeout: 480_000 }, async () => {
    const { page, errors } = await open();
    await setValue(page, 'Batch size', '1');
    await setValue(page, 'Steps', '2');
    await setValue(page, 'Seed', '5');
    await sample(page, /seed 5/);
    const bundled = await canvasData(page, 'final');

    // The Research tab, opened before the import, lists the imported model once it is in the library.
    await page.getByRole('tab', { name: 'Research' }).click();
    const researchModels = page.getByRole('group', { name: 'Models' }).getByRole('checkbox');
    await expect.poll(() => researchModels.count(), LONG).toBe(4);

    await page.getByRole('tab', { name: 'Models' }).click();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: /^Export Emoji 16 px/ }).click();
    const file = await (await download).path();
    await page.getByLabel('Import weights').setInputFiles({ name: 'roundtrip.safetensors', mimeType: 'application/octet-stream', buffer: readFileSync(file) });
    await expect.poll(() => page.getByTestId('library-message').textContent(), LONG).toMatch(/imported "roundtrip"/);
    const rows = page.getByTestId('models').locator('tr');
    await expect.poll(() => rows.count(), LONG).toBe(6); // header, the three bundled models, the ideal denoiser, imported
    // The export carries the steps it was trained for.
    expect(await rows.filter({ hasText: 'roundtrip' }).textContent()).toMatch(/33,000/);

    await page.getByLabel('Import weights').setInputFiles({ name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a safetensors file at all') });
    await expect.poll(() => page.getByTestId('library-error').textContent(), LONG).toMatch(/broken\.safetensors: /);
    expect(await rows.count()).toBe(6);

    await page.getByRole('tab', { name: 'Research' }).click();
    await expect.poll(() => researchModels.count(), LONG).toBe(5);
    expect(await page.getByRole('group', { name: 'Models' }).getByLabel(/model roundtrip/).isChecked()).toBe(false);

    await page.getByRole('tab', { name: 'Sample' }).click();
    // The same settings (batch 1, 2 steps, seed 5), the imported model.
    await page.getByLabel('Model', { exact: true }).selectOption({ label: 'roundtrip' });
    await sample(page, /seed 5/);
    expect(await canvasData(page, 'final')).toBe(bundled);
    // Each result names its model.
    expect([await page.getByTestId('final-model').textContent(), await page.getByTestId('previous-model').textContent()]).toEqual(['roundtrip', 'Emoji 16 px (bundled)']);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe('research tab', () => {
  it('charts one-shot vs chain, scores the first step against the final sample, and keeps a budget run with its CSV across a reload', { timeout: 600_000 }, async () => {
    const { page, errors } = await open();
    await page.getByRole('tab', { name: 'Research' }).click();
    const models = page.getByRole('group', { name: 'Models' });
    await expect.poll(() => models.getByRole('checkbox').count(), LONG).toBe(4); // the bundled time-conditioned model, the two layered models, the ideal denoiser
    // The measured answers first: a verdict per hypothesis, from public/answers, with its figure.
    for (const id of ['H1', 'H2', 'H3', 'H4']) {
      await expect.poll(() => page.getByTestId(`verdict-${id}`).getAttribute('data-verdict'), LONG).toMatch(/^(supported|partly supported|not supported)$/);
    }
    await expect.poll(() => page.locator('research-answers img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), LONG).toBeGreaterThan(0);
    // Every pair of the figure's rows is labelled with its model, the labels as tall as the image.
    const labels = page.locator('research-answers .labels span');
    expect(await labels.count()).toBeGreaterThanOrEqual(4);
    expect(await labels.first().textContent()).toMatch(/^time-conditioned \(bundled\)first-step x0 \/ final$/);
    const [labelBox, imgBox] = await Promise.all([page.locator('research-answers .labels').boundingBox(), page.locator('research-answers img').boundingBox()]);
    expect(Math.abs(labelBox!.height - imgBox!.height)).toBeLessThan(2);
    // Small settings: SwiftShader runs every UNet on the CPU.
    await models.getByLabel(/model Layered 16 px, end to end/).uncheck();
    await models.getByLabel(/model Layered 16 px, layer loss/).uncheck();
    await models.getByLabel(/model Ideal denoiser/).uncheck();
    await setValue(page, 'Chain steps (num_block) for time-conditioned models', '3');
    await setValue(page, 'Held-out images', '2');
    // num_block 3 is range(0, 1000, 333): t = 999, 666, 333. Its cost before it runs (chains of 1 + 2 + 3
    // steps from those t, for 2 images: the job's own count), its time once an experiment has measured this adapter.
    expect(await page.getByTestId('experiment-chain').textContent()).toMatch(/run 3 steps: t = 999, 666, 333 \(num_block 3/);
    expect(await page.getByTestId('oneshot-cost').textContent()).toMatch(/^12 image evaluations.*the time shows once an experiment has run here/);
    await page.getByRole('button', { name: 'Run experiment 1' }).click();
    const chart = page.getByTestId('oneshot-chart');
    await chart.waitFor(LONG);
    expect(await chart.evaluate((el) => [...el.shadowRoot!.querySelectorAll('path[data-series]')].map((p) => p.getAttribute('data-series')))).toEqual(['Emoji 16 px (bundled): one-shot', 'Emoji 16 px (bundled): chain']);
    expect(await page.getByTestId('oneshot-table').textContent()).toMatch(/333.*666/s);

    await setValue(page, 'Samples', '2');
    expect(await page.getByTestId('firststep-cost').textContent()).toMatch(/^6 image evaluations \(UNet forwards of one image\): about \d/);
    await page.getByRole('button', { name: 'Run experiment 2' }).click();
    const first = page.getByTestId('firststep-table');
    await first.waitFor(LONG);
    expect(await first.textContent()).toMatch(/Emoji 16 px \(bundled\)1,113,955\d+\.\d{2}( collapsed)?\d+\.\d{2}.*real training images \(at this n\)/s);

    await setValue(page, 'Run name', 'tiny budget');
    await setValue(page, 'Evaluations per arm', '2');
    await setValue(page, 'Points', '1');
    await setValue(page, 'FD samples', '2');
    await page.getByLabel('Time-conditioned model', { exact: true }).selectOption('tiny');
    await setValue(page, 'Layered num_block', '2');
    await setValue(page, 'Layered ch', '8');
    await setValue(page, 'Time batch', '2');
    await setValue(page, 'Recipe batch', '2');
    await setValue(page, 'Layered batch', '2');
    await page.getByRole('button', { name: 'Run experiment 3' }).click();
    const table = page.getByTestId('budget-table');
    await expect.poll(async () => ((await table.count()) ? (await table.locator('tr').count()) : 0), { timeout: 480_000 }).toBe(5); // header + one point per arm
    await expect.poll(() => page.getByTestId('job').count(), LONG).toBe(0);
    for (const id of ['budget-time-chart', 'budget-evals-chart']) {
      expect(await page.getByTestId(id).evaluate((el) => el.shadowRoot!.querySelectorAll('path[data-series]').length)).toBe(4);
    }
    await page.reload();
    await page.getByRole('tab', { name: 'Research' }).click();
    const stored = page.getByTestId('budget-runs');
    await expect.poll(() => stored.textContent(), LONG).toMatch(/tiny budget.*done4 points/s);
    const download = page.waitForEvent('download');
    await stored.getByRole('button', { name: 'Export CSV' }).first().click();
    const csv = readFileSync(await (await download).path(), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('arm,parameters,step,evals,train_seconds,loss,fd');
    expect(csv.slice(1).map((l) => l.split(',').slice(0, 4).join(','))).toEqual(['time,702499,1,2', 'recipe,702499,1,2', expect.stringMatching(/^layer,\d+,1,2$/), expect.stringMatching(/^end2end,\d+,1,2$/)]);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe('without WebGPU', () => {
  it('explains how to enable it instead of a blank page', { timeout: 480_000 }, async () => {
    const context = await studio.browser().newContext();
    await context.addInitScript(() => {
      delete (Navigator.prototype as unknown as { gpu?: unknown }).gpu;
    });
    const page = await context.newPage();
    await page.goto(studio.url());
    await expect.poll(() => page.getByTestId('no-webgpu').textContent()).toMatch(/This browser has no WebGPU.*--enable-unsafe-webgpu/s);
    await context.close();
  });
});
