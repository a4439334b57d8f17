// lib/png.mjs without a browser: images encoded here with each of the five PNG row filters (and
// in RGB and RGBA) decode to the pixels they were made from; what it cannot read is refused.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { decodePng, drawnShare, pixel } from './lib/png.mjs';

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, data, Buffer.alloc(4)]); // the decoder does not check CRCs
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Encodes `rows` (arrays of channel bytes), row y with filter `filters[y]`. */
function encode(width, channels, rows, filters, { depth = 8 } = {}) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(rows.length, 4);
  ihdr[8] = depth;
  ihdr[9] = channels === 4 ? 6 : 2;
  const out = [];
  let prev = new Array(width * channels).fill(0);
  rows.forEach((row, y) => {
    const f = filters[y];
    out.push(f);
    row.forEach((v, i) => {
      const a = i >= channels ? row[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f];
      out.push((v - pred) & 0xff);
    });
    prev = row;
  });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.from(out))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('lib/png.mjs', () => {
  it('decodes RGBA rows under every filter type', () => {
    const width = 4;
    const rows = Array.from({ length: 5 }, (_, y) => Array.from({ length: width * 4 }, (_, i) => (y * 53 + i * 29 + (i % 4) * 71) & 0xff));
    const img = decodePng(encode(width, 4, rows, [0, 1, 2, 3, 4]));
    assert.equal(img.width, width);
    assert.equal(img.height, 5);
    for (let y = 0; y < 5; y++) for (let x = 0; x < width; x++) assert.deepEqual(pixel(img, x, y), rows[y].slice(x * 4, x * 4 + 4), `pixel ${x},${y}`);
  });

  it('decodes RGB with alpha 255 and measures what is drawn on the background', () => {
    const white = [255, 255, 255], red = [200, 10, 10];
    const rows = [[...white, ...white, ...white, ...white], [...white, ...red, ...white, ...white]];
    const img = decodePng(encode(4, 3, rows, [4, 4]));
    assert.deepEqual(pixel(img, 1, 1), [...red, 255]);
    assert.deepEqual(pixel(img, 0, 0), [...white, 255]);
    const { background, drawnShare: share } = drawnShare(img);
    assert.deepEqual(background, white);
    assert.equal(share, 1 / 8);
  });

  it('refuses what it cannot read', () => {
    assert.throws(() => decodePng(Buffer.from('GIF89a')), /not a PNG/);
    assert.throws(() => decodePng(encode(1, 3, [[0, 0, 0, 0, 0, 0]], [0], { depth: 16 })), /bit depth 16/);
  });
});
