// <pixel-grid>: RGBA8 images (Pixels) tiled on a canvas, scaled up with crisp pixels. Every draw
// bumps data-frame, so tests and the page can tell that a preview really updated.
import { LitElement, css, html, type PropertyValues } from 'lit';
import { customElement, property, query } from 'lit/decorators.js';
import { encodePng } from '../io/png';
import type { Pixels } from '../worker/api';
import { exportScale, imagesOf, tile, type Raster } from './film-media';

const GAP = 1;

/** Image i of a set, as a set of one (a view, no copy). */
export function frameOf(p: Pixels, i: number): Pixels {
  const per = p.size * p.size * 4;
  return { count: 1, size: p.size, rgba: p.rgba.subarray(i * per, (i + 1) * per) };
}

/** Tiles images on a fresh canvas (also used for PNG export). */
export function gridCanvas(p: Pixels, cols: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  drawGrid(canvas, p, cols);
  return canvas;
}

export function drawGrid(canvas: HTMLCanvasElement, p: Pixels, cols: number): void {
  const c = Math.max(1, Math.min(cols, p.count));
  const rows = Math.ceil(p.count / c);
  canvas.width = c * p.size + (c - 1) * GAP;
  canvas.height = rows * p.size + (rows - 1) * GAP;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const per = p.size * p.size * 4;
  for (let i = 0; i < p.count; i++) {
    const img = new ImageData(new Uint8ClampedArray(p.rgba.buffer as ArrayBuffer, p.rgba.byteOffset + i * per, per), p.size, p.size);
    ctx.putImageData(img, (i % c) * (p.size + GAP), Math.floor(i / c) * (p.size + GAP));
  }
}

/** Saves bytes as a file through the browser's download. */
export function downloadBytes(bytes: Uint8Array, name: string, type: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

/** Saves an image (or a canvas) as a PNG whose tEXt chunks carry `text` (the settings that made it). */
export async function downloadPng(image: Raster | HTMLCanvasElement, name: string, text: Record<string, string> = {}): Promise<void> {
  const r = image instanceof HTMLCanvasElement ? canvasRaster(image) : image;
  downloadBytes(await encodePng(r.width, r.height, r.rgba, text), name, 'image/png');
}

export function canvasRaster(canvas: HTMLCanvasElement): Raster {
  const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
  return { width: canvas.width, height: canvas.height, rgba: new Uint8Array(data.buffer) };
}

/**
 * A set of images as an export: `cols` to a row, scaled (nearest neighbour) so that each is at least
 * 128 px (exportScale) and the grid at least 256 px wide.
 */
export function exportGrid(p: Pixels, cols: number): Raster {
  const c = Math.max(1, Math.min(cols, p.count));
  const scale = Math.max(exportScale(p.size), Math.ceil(256 / (c * p.size)));
  return tile(imagesOf(p), p.size, c, scale, Math.max(1, Math.floor(scale / 2)));
}

@customElement('pixel-grid')
export class PixelGrid extends LitElement {
  static override styles = css`
    :host { display: inline-block; max-width: 100%; }
    canvas { image-rendering: pixelated; display: block; background: #fff; border-radius: 4px; box-shadow: 0 0 0 1px var(--edge); max-width: 100%; height: auto; }
  `;

  @property({ attribute: false }) pixels: Pixels | undefined;
  @property({ type: Number }) cols = 4;
  /** Display width in CSS pixels (height follows). */
  @property({ type: Number }) width = 256;
  @property() label = '';
  @query('canvas') private canvas!: HTMLCanvasElement;
  private frame = 0;

  protected override updated(changed: PropertyValues): void {
    if (!this.pixels || !(changed.has('pixels') || changed.has('cols'))) return;
    drawGrid(this.canvas, this.pixels, this.cols);
    this.canvas.style.width = `${this.width}px`;
    this.setAttribute('data-frame', String(++this.frame));
  }

  override render() {
    return html`<canvas role="img" aria-label=${this.label} width="1" height="1" style="width:${this.width}px"></canvas>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pixel-grid': PixelGrid;
  }
}
