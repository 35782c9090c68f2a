// Sampling speed in the built app with live previews on and off (issue: previews must cost < 10%).
// Runs the Sample tab in headless Chromium (the adapter Chromium gives: SwiftShader here, a real GPU
// with --gpu), alternating previews on/off, and prints the median ms/step of each and their ratio.
//
//   npm run bench:previews [-- --steps 20 --batch 4 --reps 3 --gpu]
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { CHROMIUM, launchChromium, startApp } from '../tests/e2e/browser';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '10' }, batch: { type: 'string', default: '1' }, reps: { type: 'string', default: '3' }, gpu: { type: 'boolean', default: false } } });
const { server, url } = await startApp();
const browser = values.gpu
  ? await chromium.launch({ executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--no-sandbox'] })
  : await launchChromium();
const page = await browser.newPage();
await page.goto(url);
await page.getByTestId('adapter').filter({ hasText: 'Adapter' }).waitFor({ timeout: 120_000 });
const adapter = await page.getByTestId('adapter').textContent();
const set = async (label: string, v: string): Promise<void> => {
  const el = page.getByLabel(label, { exact: true });
  await el.fill(v);
  await el.dispatchEvent('change');
};
await set('Batch size', values.batch!);
await set('Steps', values.steps!);

async function run(previews: boolean): Promise<number> {
  const box = page.getByLabel('Live preview', { exact: true });
  if ((await box.isChecked()) !== previews) await box.click();
  await page.getByRole('button', { name: 'Sample', exact: true }).click();
  await page.getByTestId('job').waitFor({ state: 'attached' });
  await page.getByTestId('job').waitFor({ state: 'detached', timeout: 600_000 });
  const text = (await page.getByTestId('final').locator('xpath=..').textContent())!;
  return Number(/([\d.]+) ms\/step/.exec(text)![1]);
}

await run(true); // warm-up: pipelines compiled, weights uploaded
const on: number[] = [], off: number[] = [];
for (let r = 0; r < Number(values.reps); r++) {
  on.push(await run(true));
  off.push(await run(false));
}
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(`${adapter}; bundled model, batch ${values.batch}, ${values.steps} steps, ${values.reps} runs each`);
console.log(`previews on:  ${median(on).toFixed(2)} ms/step  (${on.map((v) => v.toFixed(1)).join(', ')})`);
console.log(`previews off: ${median(off).toFixed(2)} ms/step  (${off.map((v) => v.toFixed(1)).join(', ')})`);
console.log(`on / off = ${(median(on) / median(off)).toFixed(3)}`);
await browser.close();
await server.close();
