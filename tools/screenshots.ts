// README screenshots of the built app (Sample, Denoise, Train, Research tabs; the Train tab's cost
// line with a running job, and the question when a second job starts) in headless Chromium.
//   npx tsx tools/screenshots.ts docs/ [sample,denoise,train,research,jobs]
import { join } from 'node:path';
import { launchChromium, startApp } from '../tests/e2e/browser';

const out = process.argv[2] ?? 'docs';
const only = new Set((process.argv[3] ?? 'sample,denoise,train,research,jobs').split(','));
const { server, url } = await startApp();
const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 1240, height: 900 } });
await page.goto(url);
await page.getByTestId('adapter').filter({ hasText: 'Adapter' }).waitFor({ timeout: 120_000 });
const set = async (label: string, v: string): Promise<void> => {
  const el = page.getByLabel(label, { exact: true });
  await el.fill(v);
  await el.dispatchEvent('change');
};
const running = async (): Promise<void> => {
  await page.locator('ddim-app[data-job]').waitFor({ timeout: 120_000 });
};
const idle = async (): Promise<void> => {
  await page.locator('ddim-app:not([data-job])').waitFor({ timeout: 1_800_000 });
};

if (only.has('sample')) {
await set('Batch size', '9');
await set('Steps', '20');
await page.getByRole('button', { name: 'Sample', exact: true }).click();
await running();
await idle();
await page.getByTestId('first-step-table').waitFor();
await page.screenshot({ path: join(out, 'sample-studio.png'), fullPage: true });
}

if (only.has('denoise')) {
await page.getByRole('tab', { name: 'Denoise' }).click();
await page.getByTestId('picker').waitFor({ timeout: 120_000 });
await page.getByTestId('picker').click({ position: { x: 150, y: 10 } });
await set('t', '400');
await page.getByRole('button', { name: 'Denoise', exact: true }).click();
await page.getByTestId('denoise-scores').waitFor({ timeout: 600_000 });
await page.screenshot({ path: join(out, 'denoise.png'), fullPage: true });
}

if (only.has('train')) {
await page.getByRole('tab', { name: 'Train' }).click();
await set('Training batch size', '4');
await set('Training steps', '6');
await set('Checkpoint every', '3');
await set('Preview every', '6');
await set('Learning rate', '0.002');
await set('Run name', 'screenshot run');
await page.getByRole('button', { name: 'Train', exact: true }).click();
await running();
await idle();
await page.screenshot({ path: join(out, 'train-studio.png'), fullPage: true });
}

if (only.has('jobs')) {
  // A run long enough to be running while the screenshots are taken: its cost line and job panel with
  // the ETA, then the Sample tab's question when a chain is started while it trains.
  await page.getByRole('tab', { name: 'Train' }).click();
  await set('Training batch size', '4');
  await set('Training steps', '400');
  await set('Checkpoint every', '400');
  await set('Preview every', '0');
  await set('Run name', 'screenshot: a longer run');
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  await page.getByTestId('job-train').getByTestId('job-status').filter({ hasText: 'ETA' }).waitFor({ timeout: 600_000 });
  await page.locator('train-studio').locator('section', { hasText: 'Training' }).first().screenshot({ path: join(out, 'screenshots/train-expectation.png') });
  await page.getByRole('tab', { name: 'Sample' }).click();
  await page.getByRole('button', { name: 'Sample', exact: true }).click();
  await page.getByTestId('job-conflict').waitFor();
  await page.screenshot({ path: join(out, 'screenshots/job-conflict.png') });
  await page.getByTestId('job-conflict').getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('button', { name: 'Stop training', exact: true }).click();
  await idle();
}

if (only.has('research')) {
  // Experiment 1 on the bundled time-conditioned and end-to-end layered models, experiment 2 on all three.
  await page.getByRole('tab', { name: 'Research' }).click();
  const models = page.getByRole('group', { name: 'Models' });
  await models.getByRole('checkbox').nth(2).waitFor({ timeout: 120_000 });
  await models.getByLabel(/model Layered 16 px, layer loss/).uncheck();
  await set('Held-out images', '4');
  await page.getByRole('button', { name: 'Run experiment 1' }).click();
  await page.getByTestId('oneshot-chart').waitFor({ timeout: 1_800_000 });
  await models.getByLabel(/model Layered 16 px, layer loss/).check();
  await set('Samples', '8');
  await page.getByRole('button', { name: 'Run experiment 2' }).click();
  await page.getByTestId('firststep-table').waitFor({ timeout: 1_800_000 });
  await page.screenshot({ path: join(out, 'research.png'), fullPage: true });
}
await browser.close();
await server.close();
console.log(`wrote ${[...only].join(', ')} screenshots to ${out}/`);
