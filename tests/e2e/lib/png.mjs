// A small PNG decoder for the screenshots the browsers take (no package in node_modules decodes
// PNG): 8-bit RGB or RGBA, not interlaced, which is what Chromium and Firefox write. Anything else
// is refused with an error naming what it found.

import { inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * @typedef {object} Image
 * @property {number} width
 * @property {number} height
 * @property {Uint8Array} rgba  4 bytes a pixel, row after row (RGB images get alpha 255)
 */

/**
 * Decodes a PNG file.
 * @param {Uint8Array} png
 * @returns {Image}
 */
export function decodePng(png) {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file (no PNG signature)');
  let header;
  const idat = [];
  for (let at = 8; at + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + len);
    if (data.length !== len) throw new Error(`PNG chunk ${type} is cut short`);
    if (type === 'IHDR') {
      header = {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        depth: data[8],
        colour: data[9],
        interlace: data[12],
      };
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    at += 12 + len; // length, type, data, CRC
  }
  if (!header) throw new Error('PNG without an IHDR chunk');
  const { width, height, depth, colour, interlace } = header;
  const channels = { 2: 3, 6: 4 }[colour];
  if (depth !== 8 || !channels || interlace !== 0) {
    throw new Error(`PNG of bit depth ${depth}, colour type ${colour}, interlace ${interlace}: only 8-bit RGB/RGBA, not interlaced`);
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error(`PNG data too short: ${raw.length} bytes for ${width}×${height}`);
  const rgba = new Uint8Array(width * height * 4);
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Uint8Array.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    unfilter(filter, line, prev, channels, y);
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      rgba[o] = line[x * channels];
      rgba[o + 1] = line[x * channels + 1];
      rgba[o + 2] = line[x * channels + 2];
      rgba[o + 3] = channels === 4 ? line[x * channels + 3] : 255;
    }
    prev = line;
  }
  return { width, height, rgba };
}

/** Undoes one scanline's filter in place (PNG spec, section 9). */
function unfilter(filter, line, prev, bpp, y) {
  for (let i = 0; i < line.length; i++) {
    const a = i >= bpp ? line[i - bpp] : 0;
    const b = prev[i];
    const c = i >= bpp ? prev[i - bpp] : 0;
    let add;
    switch (filter) {
      case 0: add = 0; break;
      case 1: add = a; break;
      case 2: add = b; break;
      case 3: add = (a + b) >> 1; break;
      case 4: {
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        add = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
        break;
      }
      default: throw new Error(`PNG row ${y}: unknown filter type ${filter}`);
    }
    line[i] = (line[i] + add) & 0xff;
  }
}

/**
 * The pixel at (x, y) as [r, g, b, a].
 * @param {Image} img
 */
export function pixel(img, x, y) {
  const o = (y * img.width + x) * 4;
  return [img.rgba[o], img.rgba[o + 1], img.rgba[o + 2], img.rgba[o + 3]];
}

/** Parses a CSS colour as computed styles give it, `rgb(r, g, b)` or `rgba(r, g, b, a)`. */
export function cssRgb(text) {
  const m = /^rgba?\(\s*(\d+)[ ,]+(\d+)[ ,]+(\d+)/.exec(text);
  if (!m) throw new Error(`not an rgb() colour: ${text}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** The largest difference of one channel between two colours (alpha ignored). */
export function colourDistance(p, q) {
  return Math.max(Math.abs(p[0] - q[0]), Math.abs(p[1] - q[1]), Math.abs(p[2] - q[2]));
}

/**
 * The most common colour of an image and the share of pixels that differ from it by more than
 * `tolerance` in some channel: how much of a drawing is drawn on its background.
 * @param {Image} img
 * @returns {{ background: number[], drawnShare: number }}
 */
export function drawnShare(img, tolerance = 24) {
  const counts = new Map();
  for (let o = 0; o < img.rgba.length; o += 4) {
    const k = (img.rgba[o] << 16) | (img.rgba[o + 1] << 8) | img.rgba[o + 2];
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  let bg = 0, most = -1;
  for (const [k, n] of counts) if (n > most) [bg, most] = [k, n];
  const background = [bg >> 16, (bg >> 8) & 0xff, bg & 0xff];
  let drawn = 0;
  for (let o = 0; o < img.rgba.length; o += 4) {
    if (colourDistance([img.rgba[o], img.rgba[o + 1], img.rgba[o + 2]], background) > tolerance) drawn++;
  }
  return { background, drawnShare: drawn / (img.width * img.height) };
}
