// The studio's page-side formats: the Sample settings as a link and as a PNG text chunk (one parser,
// malformed values fall back with a note), the denoising GIF (one frame per step, decodable), frame
// statistics, the filmstrip's columns, exports scaled up to a usable size, the charts' ticks, and
// the comparison grid's axes.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodePng, readPngText } from '../../src/io/png';
import { cellSettings, parseAxis } from '../../src/ui/compare-axes';
import { tickLabel, ticks } from '../../src/ui/chart-axes';
import { denoisingGif, exportScale, filmColumns, frameStats, tile } from '../../src/ui/film-media';
import { PNG_SETTINGS_KEY, hasSettings, settingsFromQuery, settingsToQuery, sharedSettings, type SharedSettings } from '../../src/ui/sample-link';
import type { FirstStepReport, SampleSettings } from '../../src/worker/api';
import { firstStepText, median } from '../../src/ui/first-step';

const BUNDLED = ['bundled:emoji16'];
const settings: SharedSettings = { modelId: 'bundled:emoji16', sampler: 'generalized', steps: 20, eta: 0.35, skip: 'quad', seed: 4242, batch: 9, clipX0: false };

describe('settings as a link', () => {
  it('round-trips every shared setting, the precision tier included', () => {
    const q = settingsToQuery(settings);
    expect(hasSettings(q)).toBe(true);
    expect(settingsFromQuery(q, BUNDLED)).toEqual({ settings, notes: [] });
    const tiered = sharedSettings({ ...settings, previews: true }, 'matrix-emulated');
    expect(settingsFromQuery(settingsToQuery(tiered), BUNDLED).settings.precision).toBe('matrix-emulated');
    expect(settingsFromQuery('precision=bf16', BUNDLED).notes).toEqual(['precision="bf16" ignored: expected fp32, f16, matrix, matrix-emulated']);
  });

  it('leaves out a model of this browser\'s library (its id means nothing elsewhere)', () => {
    const q = settingsToQuery({ ...settings, modelId: 'model-abc' });
    expect(new URLSearchParams(q).has('model')).toBe(false);
  });

  it('ignores malformed or out-of-range values, one note each, and keeps the rest', () => {
    const { settings: s, notes } = settingsFromQuery('model=sd15&sampler=euler&steps=0&eta=1.5&skip=quad&seed=-3&batch=65&clip=yes&debug', BUNDLED);
    expect(s).toEqual({ skip: 'quad' });
    expect(notes).toHaveLength(7);
    expect(notes.join('\n')).toMatch(/model="sd15" ignored: expected one of emoji16/);
    expect(notes.join('\n')).toMatch(/steps="0" ignored: expected an integer in \[1, 1000\]/);
    expect(notes.join('\n')).toMatch(/batch="65" ignored/);
    for (const bad of ['steps=1e2', 'steps=0x10', 'seed=4294967296', 'eta=-0.1', 'eta=.', 'steps=2.5']) {
      expect(settingsFromQuery(bad, BUNDLED).notes, bad).toHaveLength(1);
    }
    expect(hasSettings('debug')).toBe(false);
  });
});

describe('settings in a PNG', () => {
  it('writes a tEXt chunk that decoders accept and reads it back', async () => {
    const rgba = new Uint8Array(4 * 3 * 4).map((_, i) => (i * 37) % 256);
    const png = await encodePng(4, 3, rgba, { [PNG_SETTINGS_KEY]: settingsToQuery(settings), Comment: 'caf\u00e9 \u2192 x0' });
    const decoded = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([decoded.info.width, decoded.info.height, decoded.info.channels]).toEqual([4, 3, 4]);
    expect(new Uint8Array(decoded.data)).toEqual(rgba);
    const text = readPngText(png, 'grid.png');
    expect(settingsFromQuery(text.get(PNG_SETTINGS_KEY)!, BUNDLED).settings).toEqual(settings);
    expect(JSON.parse(`"${text.get('Comment')}"`)).toBe('caf\u00e9 \u2192 x0'); // non-ASCII escaped, not lost
  });

  it('refuses a file that is not a PNG, a truncated chunk and a corrupt chunk, naming the file', async () => {
    const png = await encodePng(1, 1, new Uint8Array(4), { [PNG_SETTINGS_KEY]: 'steps=5' });
    expect(() => readPngText(new TextEncoder().encode('GIF89a'), 'x.gif')).toThrow(/x\.gif: not a PNG file/);
    expect(() => readPngText(png.subarray(0, 40), 'cut.png')).toThrow(/cut\.png: the PNG ends at byte 40, before its IEND chunk/);
    expect(() => readPngText(png.subarray(0, 50), 'cut.png')).toThrow(/cut\.png: the tEXt chunk at byte 33 runs past the end/);
    const bad = png.slice();
    bad[45] ^= 1;
    expect(() => readPngText(bad, 'bad.png')).toThrow(/bad\.png: the tEXt chunk at byte 33 is corrupt/);
  });
});

describe('the denoising GIF', () => {
  it('has one frame per step, x_t beside x0, and decodes', async () => {
    const size = 4, steps = 5, per = size * size * 4;
    const ramp = (n: number, seed: number) => Uint8Array.from({ length: n * per }, (_, i) => (i % 4 === 3 ? 255 : (i * seed) % 256));
    const film = { seq: [0, 200, 400, 600, 800], coefficients: [], xs: { count: steps + 1, size, rgba: ramp(steps + 1, 7) }, x0s: { count: steps, size, rgba: ramp(steps, 13) } };
    const gif = denoisingGif(film, 3);
    const meta = await sharp(gif, { pages: -1 }).metadata();
    expect(meta.format).toBe('gif');
    expect(meta.pages).toBe(steps);
    expect([meta.width, meta.pageHeight]).toEqual([2 * size * 3 + 3, size * 3]);
    expect(meta.delay).toEqual([150, 150, 150, 150, 1000]);
    expect(() => denoisingGif({ ...film, x0s: { count: 0, size, rgba: new Uint8Array() } })).toThrow(/no step/);
  });
});

describe('frame statistics', () => {
  it('gives the mean, std and clipped share in [-1, 1] units', () => {
    // One 1x1 image per frame: RGB (0, 255, 127.5 -> 128).
    const p = { count: 2, size: 1, rgba: Uint8Array.of(1, 1, 1, 255, 0, 255, 255, 255) };
    const s = frameStats(p, 1);
    expect(s.mean).toBeCloseTo(1 / 3, 6);
    expect(s.std).toBeCloseTo(Math.sqrt(1 - 1 / 9), 6);
    expect(s.clipped).toBe(1);
    expect(frameStats(p, 0).clipped).toBe(0);
    expect(() => frameStats(p, 2)).toThrow(/frame 2 is not in this set of 2/);
  });
});

describe('comparison grid axes', () => {
  it('parses and checks each axis, dropping repeats', () => {
    expect(parseAxis('steps', '5, 10,10, 20', 1000)).toEqual([5, 10, 20]);
    expect(parseAxis('eta', '0, .5, 1', 1000)).toEqual([0, 0.5, 1]);
    expect(parseAxis('clipX0', 'off, on', 1000)).toEqual([false, true]);
    expect(parseAxis('sampler', 'generalized,ddpm_noisy', 1000)).toEqual(['generalized', 'ddpm_noisy']);
    expect(() => parseAxis('steps', '5, 2000', 1000)).toThrow(/steps: "2000" is not an integer in \[1, 1000\]/);
    expect(() => parseAxis('eta', '1.2', 1000)).toThrow(/eta: "1.2"/);
    expect(() => parseAxis('skip', 'linear', 1000)).toThrow(/skip: "linear" is not one of uniform, quad/);
    expect(() => parseAxis('steps', ' , ', 1000)).toThrow(/at least one value/);
  });

  it('makes one-sample cells from the base settings', () => {
    const base: SampleSettings = { ...settings, previews: true };
    expect(cellSettings(base, ['steps', 10], ['eta', 1])).toEqual({ ...base, steps: 10, eta: 1, batch: 1, previews: false });
  });
});

describe('the filmstrip\'s columns', () => {
  it('shows every step when they fit, else the same stride in both rows with the last step', () => {
    expect(filmColumns(4, 25)).toEqual({ columns: [0, 1, 2, 3], stride: 1 });
    expect(filmColumns(25, 25).stride).toBe(1);
    const { columns, stride } = filmColumns(50, 25);
    expect(stride).toBe(3);
    expect(columns.length).toBeLessThanOrEqual(25);
    expect(columns[0]).toBe(0);
    expect(columns.at(-1)).toBe(49);
    expect(columns.slice(0, -1).every((k, i) => k === i * 3)).toBe(true);
    expect(filmColumns(1000, 25).columns.length).toBeLessThanOrEqual(25);
    expect(filmColumns(0, 25)).toEqual({ columns: [], stride: 1 });
  });
});

describe('exports at a usable size', () => {
  it('scales each image to at least 128 px, nearest neighbour, the grid white between', () => {
    expect([exportScale(16), exportScale(32), exportScale(256)]).toEqual([8, 4, 1]);
    const size = 2, red = Uint8Array.of(255, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255, 0, 0, 255, 255);
    const r = tile([red, red, red, red], size, 2, 3, 1);
    expect([r.width, r.height]).toEqual([2 * 6 + 1, 2 * 6 + 1]);
    const px = (x: number, y: number): number[] => [...r.rgba.subarray((y * r.width + x) * 4, (y * r.width + x) * 4 + 4)];
    expect(px(0, 0)).toEqual([255, 0, 0, 255]);
    expect(px(5, 5)).toEqual([0, 0, 255, 255]); // the image's bottom-right pixel, 3x3 wide
    expect(px(6, 0)).toEqual([255, 255, 255, 255]); // the gap
    // A 2x2 grid of 16 px samples exports at least 256 px wide.
    expect(tile(Array.from({ length: 4 }, () => new Uint8Array(16 * 16 * 4)), 16, 2, exportScale(16), 4).width).toBeGreaterThanOrEqual(256);
  });
});

describe('chart ticks', () => {
  it('labels whole numbers as such and places round ticks with both ends', () => {
    expect([tickLabel(0), tickLabel(20), tickLabel(1000), tickLabel(0.0123), tickLabel(2.5)]).toEqual(['0', '20', '1,000', '0.012', '2.50']);
    expect(ticks(1, 20, false)).toEqual([1, 5, 10, 15, 20]);
    expect(ticks(0, 999, false)).toEqual([0, 200, 400, 600, 800, 999]);
    expect(ticks(-3.2, -0.4, true)).toEqual([-3.2, -2, -1, -0.4]); // -3 would crowd the end
    expect(ticks(-3, 0.5, true)).toEqual([-3, -2, -1, 0, 0.5]);
    expect(ticks(5, 5, false)).toEqual([5]);
    // A count's axis (a loss chart's first steps) has no tick between whole numbers.
    expect(ticks(1, 3, false)).toEqual([1, 1.5, 2, 2.5, 3]);
    expect(ticks(1, 3, false, 5, 0.1, true)).toEqual([1, 2, 3]);
    expect(ticks(1, 20, false, 5, 0.1, true)).toEqual([1, 5, 10, 15, 20]);
    // Wide labels ("100,224" at the start) keep a wider gap: 200,000 would overlap it.
    expect(ticks(100_224, 999_936, false)).toEqual([100_224, 200_000, 400_000, 600_000, 800_000, 999_936]);
    expect(ticks(100_224, 999_936, false, 5, 0.17)).toEqual([100_224, 400_000, 600_000, 800_000, 999_936]);
  });
});

describe('the first-step panel\'s words', () => {
  const base: FirstStepReport = {
    firstX0: { count: 2, size: 1, rgba: new Uint8Array(8) }, final: { count: 2, size: 1, rgba: new Uint8Array(8) }, difference: { count: 2, size: 1, rgba: new Uint8Array(8) },
    mse: [0.5, 0.6], psnr: [9, 8], t: 999, k0: 157.39, k1: 157.38,
  };

  it('are written from the chain\'s numbers: the amplification, the ideal denoiser\'s average and the model\'s distance from it', () => {
    const ideal = { name: 'the ideal denoiser of D', x0: base.firstX0, epsRms: [0.02, 0.04], x0Rms: [3.15, 6.3], meanMse: [0.0004, 0.0006] };
    const text = firstStepText({ ...base, ideal });
    expect(text).toMatch(/^At the first step \(t = 999\) the chain computes x0 = 157\.4·x_t − 157\.4·eps: any error in the model's eps reaches x0 multiplied by 157\.4\./);
    // Medians over the batch of two: the mean of the two values.
    expect(text).toMatch(/the ideal denoiser of D .* predicts the blurry average .* within MSE 0\.0005 of the training images' mean image/);
    expect(text).toMatch(/differs from the ideal's by RMS 0\.0300 per value .* becomes RMS 4\.72 in x0.*saturated noise rather than a blur/);
    // A model whose eps is close to the ideal's: its first x0 is the average too.
    expect(firstStepText({ ...base, ideal: { ...ideal, epsRms: [0.001, 0.001], x0Rms: [0.16, 0.16] } })).toMatch(/looks like the ideal's average/);
    // Without an ideal (another image size): the amplification and the chain, no claim about the average.
    expect(firstStepText(base)).not.toMatch(/average|ideal/);
    expect([median([3, 1, 2]), median([4, 1, 3, 2]), median([5])]).toEqual([2, 2.5, 5]);
  });
});
