#!/usr/bin/env node
// Derives the bundled training data from the npm package emoji-datasource-google (MIT): every
// Noto Emoji image with a Google rendering (3,786 with skin-tone variants), cut from the package's
// sprite sheets at 16 and 32 px, alpha-composited on white.
//
// Output (public/data/, committed; rerun after changing the package version):
//   emoji{16,32}.gz.bin  gzip of uint8 RGB images, (N, 3, S, S) row-major, value v -> v / 127.5 - 1
//                        (not ".gz": static servers would send it as Content-Encoding: gzip, and the
//                        browser would unpack it before the app does)
//   emoji.json           { source, count, sizes, items: [{ name, category, split }] } in image order;
//                        split "eval" for every 10th image (held out), else "train".
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync, inflateSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve('emoji-datasource-google/package.json'));
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const out = new URL('../public/data/', import.meta.url).pathname;

/** Decodes an 8-bit RGBA, non-interlaced PNG (the package's sheets) into { width, height, rgba }. */
function decodeRgbaPng(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0, height = 0;
  const idat = [];
  for (let o = 8; o < bytes.length;) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    const data = bytes.subarray(o + 8, o + 8 + len);
    if (type === 'IHDR') {
      width = view.getUint32(o + 8);
      height = view.getUint32(o + 12);
      if (data[8] !== 8 || data[9] !== 6 || data[12] !== 0) throw new Error('sheet is not 8-bit RGBA non-interlaced');
    }
    if (type === 'IDAT') idat.push(data);
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 4;
  const rgba = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= 4 ? rgba[y * stride + x - 4] : 0;
      const b = y > 0 ? rgba[(y - 1) * stride + x] : 0;
      const c = x >= 4 && y > 0 ? rgba[(y - 1) * stride + x - 4] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      rgba[y * stride + x] = v & 255;
    }
  }
  return { width, height, rgba };
}

// Every image in sheet order of the package's emoji.json: each emoji, then its skin-tone variants.
const items = [];
for (const e of JSON.parse(readFileSync(join(pkgDir, 'emoji.json'), 'utf8'))) {
  if (!e.has_img_google) continue;
  const name = (e.name ?? e.short_name).toLowerCase();
  items.push({ name, category: e.category, x: e.sheet_x, y: e.sheet_y });
  for (const [tone, v] of Object.entries(e.skin_variations ?? {})) {
    if (v.has_img_google) items.push({ name: `${name} (${tone})`, category: e.category, x: v.sheet_x, y: v.sheet_y });
  }
}

for (const S of [16, 32]) {
  const sheet = decodeRgbaPng(readFileSync(join(pkgDir, `img/google/sheets-clean/${S}.png`)));
  const cell = S + 2; // one transparent pixel of padding around every image
  const images = new Uint8Array(items.length * 3 * S * S);
  items.forEach((it, n) => {
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const p = ((it.y * cell + 1 + y) * sheet.width + it.x * cell + 1 + x) * 4;
        const alpha = sheet.rgba[p + 3] / 255;
        for (let c = 0; c < 3; c++) {
          images[((n * 3 + c) * S + y) * S + x] = Math.round(sheet.rgba[p + c] * alpha + 255 * (1 - alpha));
        }
      }
    }
  });
  writeFileSync(join(out, `emoji${S}.gz.bin`), gzipSync(images, { level: 9 }));
}
writeFileSync(join(out, 'emoji.json'), JSON.stringify({
  source: `${pkg.name}@${pkg.version} (${pkg.license}), Noto Emoji images`,
  count: items.length,
  sizes: [16, 32],
  items: items.map((it, i) => ({ name: it.name, category: it.category, split: i % 10 === 9 ? 'eval' : 'train' })),
}));
console.log(`wrote ${items.length} images at 16 and 32 px to ${out}`);
