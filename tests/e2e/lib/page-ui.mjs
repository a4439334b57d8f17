// Driving the page's own user interface (www/index.html + www/app.js) as a user would, the same way
// in Chromium and in Firefox: drop a file on the page, get one through the get form and save it,
// read what the page shows (status line, recent puts, transfers, the ring drawing) and check the
// drawing's screenshot pixel by pixel.

import { colourDistance, cssRgb, decodePng, drawnShare, pixel } from './png.mjs';

/**
 * Init script (`page.addInitScript(captureDownloads)`, before the page loads): a click on a
 * download link (`a[download]`) is recorded in `window.chordTestDownloads` with the bytes its URL
 * points to (`fetch(href)`, read as base64) instead of being saved to disk. Headless browsers
 * save downloads differently (playwright's download event, Firefox's download folder), so both
 * are read back this one way: the bytes the link would save.
 */
export function captureDownloads() {
  window.chordTestDownloads = [];
  window.addEventListener('click', (e) => {
    const a = e.target instanceof Element ? e.target.closest('a[download]') : null;
    if (!a) return;
    e.preventDefault(); // no file on disk; the bytes are read below
    const entry = { name: a.getAttribute('download'), href: a.href, done: false };
    window.chordTestDownloads.push(entry);
    fetch(a.href)
      .then((r) => r.arrayBuffer())
      .then((buf) => {
        const v = new Uint8Array(buf);
        let s = '';
        for (let i = 0; i < v.length; i += 0x8000) s += String.fromCharCode.apply(null, v.subarray(i, i + 0x8000));
        entry.b64 = btoa(s);
      })
      .catch((err) => { entry.error = String(err); })
      .finally(() => { entry.done = true; });
  }, true);
}

/**
 * Brings the tab to the front of its window, as a user looks at it before using it: in one Firefox
 * process the tabs share a window, and a background tab is hidden (the page skips its redraws and
 * a click on it never happens). Returns `document.visibilityState` afterwards.
 * @param {import('./browser.mjs').Peer} peer
 */
export async function show(peer) {
  await peer.page.bringToFront();
  return peer.page.evaluate(() => document.visibilityState);
}

/**
 * What the page shows at the top and how it is laid out: the status line and its kind, the id in
 * "This node", whether anything overflows sideways, and the boxes of the ring drawing and cards.
 * @param {import('./browser.mjs').Peer} peer
 */
export function pageView(peer) {
  return peer.page.evaluate(() => {
    const box = (el) => {
      const r = el.getBoundingClientRect();
      return { x: Math.round(r.x), y: Math.round(r.y + scrollY), width: Math.round(r.width), height: Math.round(r.height) };
    };
    const status = document.getElementById('status');
    return {
      status: status.textContent,
      statusKind: status.dataset.kind,
      nodeId: document.getElementById('node-id').textContent,
      overflowX: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      window: { inner: innerWidth, client: document.documentElement.clientWidth, dpr: devicePixelRatio },
      ring: box(document.getElementById('ring')),
      cards: [...document.querySelectorAll('main .card')].map((el) => ({ heading: el.querySelector('h2')?.textContent, ...box(el) })),
      controls: ['put-file', 'get-name', 'get-btn', 'leave'].map((id) => ({ id, disabled: document.getElementById(id).disabled, ...box(document.getElementById(id)) })),
    };
  });
}

/**
 * The member marks of the ring drawing (`#ring-dyn g.node`, in drawing order: later ones on top):
 * each with the id its tooltip names, its class, its centre and radius in CSS pixels from the
 * drawing's top left corner, and its computed fill; and the drawing's size.
 * @param {import('./browser.mjs').Peer} peer
 */
export function ringMarks(peer) {
  return peer.page.evaluate(() => {
    const svg = document.getElementById('ring');
    const b = svg.getBoundingClientRect();
    const marks = [...document.querySelectorAll('#ring-dyn g.node')].map((g) => {
      const c = g.querySelector('circle');
      const r = c.getBoundingClientRect();
      return {
        id: (g.querySelector('title')?.textContent ?? '').split('\n')[0],
        cls: g.getAttribute('class'),
        x: r.x + r.width / 2 - b.x,
        y: r.y + r.height / 2 - b.y,
        r: r.width / 2,
        fill: getComputedStyle(c).fill,
      };
    });
    return { width: b.width, height: b.height, marks, desc: document.getElementById('ring-desc').textContent };
  });
}

/**
 * Screenshots the ring drawing and checks it as painted: it is not blank (the share of pixels
 * unlike its background), and each member mark is painted at its place in its fill colour. A
 * mark that a later one (drawn on top) covers or touches is not colour-checked; it is counted.
 * @param {import('./browser.mjs').Peer} peer
 * @param {Awaited<ReturnType<typeof ringMarks>>} drawing  read just before
 * @returns {Promise<{ png: Buffer, drawnShare: number, checked: number, covered: number, problems: string[] }>}
 */
export async function checkRingPixels(peer, drawing) {
  const el = await peer.page.$('#ring');
  if (!el) throw new Error(`${peer.name}: no #ring element`);
  const png = Buffer.from(await el.screenshot());
  const img = decodePng(png);
  const scale = img.width / drawing.width;
  const problems = [];
  if (Math.abs(img.height - drawing.height * scale) > 2) {
    problems.push(`screenshot ${img.width}×${img.height} does not match the drawing's ${drawing.width}×${drawing.height}`);
  }
  const { drawnShare: share } = drawnShare(img);
  let checked = 0, covered = 0;
  drawing.marks.forEach((m, i) => {
    const x = m.x * scale, y = m.y * scale;
    const later = drawing.marks.slice(i + 1);
    // A later mark's circle plus its 2-unit stroke, and a pixel of slack.
    if (later.some((o) => Math.hypot(o.x * scale - x, o.y * scale - y) < (o.r + 3) * scale)) {
      covered++;
      return;
    }
    const want = cssRgb(m.fill);
    let best = Infinity, seen;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const px = Math.round(x) + dx, py = Math.round(y) + dy;
        if (px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
        const p = pixel(img, px, py);
        const d = colourDistance(p, want);
        if (d < best) [best, seen] = [d, p];
      }
    }
    checked++;
    if (!(best <= 12)) {
      problems.push(`mark of ${m.id.slice(0, 8)} (${m.cls}) at ${Math.round(x)},${Math.round(y)}: painted rgb(${seen?.slice(0, 3)}), its fill is ${m.fill}`);
    }
  });
  return { png, drawnShare: share, checked, covered, problems };
}

/**
 * Drops a file on the page as a user dragging it from a file manager would: `dragenter`,
 * `dragover` and `drop` with a DataTransfer holding the File, on the ring drawing (the page takes
 * drops anywhere). Returns what the page did at each step: whether it took the events
 * (`defaultPrevented`), whether the "Drop to store" overlay showed, and whether it went away.
 * @param {import('./browser.mjs').Peer} peer
 * @param {string} name
 * @param {Uint8Array} bytes
 */
export function dropFile(peer, name, bytes) {
  return peer.page.evaluate(
    ([name, b64]) => {
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], name, { type: 'application/octet-stream' }));
      const target = document.getElementById('ring');
      const overlay = document.getElementById('drop-overlay');
      const fire = (type) => {
        const ev = new DragEvent(type, { bubbles: true, cancelable: true, composed: true, dataTransfer: dt });
        target.dispatchEvent(ev);
        return ev.defaultPrevented;
      };
      const shownAfter = () => !overlay.hidden && getComputedStyle(overlay).display !== 'none';
      const enter = fire('dragenter');
      const overlayShown = shownAfter();
      const over = fire('dragover');
      const dropEffect = dt.dropEffect;
      const drop = fire('drop');
      return { types: [...dt.types], files: dt.files.length, enter, overlayShown, over, dropEffect, drop, overlayAfterDrop: shownAfter() };
    },
    [name, Buffer.from(bytes).toString('base64')],
  );
}

/**
 * The rows of "Recent puts" and of the transfer list whose name is `name`.
 * @param {import('./browser.mjs').Peer} peer
 * @param {string} name
 */
export function rowsFor(peer, name) {
  return peer.page.evaluate((name) => ({
    recent: [...document.querySelectorAll('#recent-puts tr[data-status]')]
      .filter((tr) => tr.querySelector('td.name')?.textContent === name)
      .map((tr) => ({ status: tr.dataset.status, cells: [...tr.cells].map((td) => td.textContent) })),
    transfers: [...document.querySelectorAll('#transfers li.xfer')]
      .filter((li) => li.querySelector('.xfer-name')?.textContent === name)
      .map((li) => ({
        dir: li.dataset.dir,
        state: li.dataset.state,
        text: li.querySelector('.xfer-text')?.textContent ?? '',
        download: li.querySelector('a.download')?.getAttribute('download') ?? null,
      })),
  }), name);
}

/**
 * Throws unless the element `selector` is the one a click at its centre reaches, with the page
 * scrolled to show it at the top, the middle and the bottom of the window (nothing covers it,
 * e.g. a sticky card).
 * @param {import('./browser.mjs').Peer} peer
 * @param {string} selector
 */
export async function assertUncovered(peer, selector) {
  const covered = await peer.page.evaluate((selector) => {
    const el = document.querySelector(selector);
    if (!el) return [`no ${selector}`];
    const out = [];
    for (const block of ['start', 'center', 'end']) {
      el.scrollIntoView({ block });
      const r = el.getBoundingClientRect();
      const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
      if (!hit || !el.contains(hit)) {
        const who = hit ? `${hit.tagName.toLowerCase()}${hit.id ? `#${hit.id}` : ''}${hit.closest('section')?.querySelector('h2') ? ` of "${hit.closest('section').querySelector('h2').textContent}"` : ''}` : 'nothing';
        out.push(`scrolled to ${scrollY} (${selector} at the ${block}): a click there reaches ${who}`);
      }
    }
    el.scrollIntoView({ block: 'center' });
    return out;
  }, selector);
  if (covered.length) throw new Error(`${peer.name}: ${selector} is covered: ${covered.join('; ')}`);
}

/**
 * Types `name` into the get form and presses Get, with the keyboard and the mouse.
 * @param {import('./browser.mjs').Peer} peer
 * @param {string} name
 */
export async function submitGet(peer, name) {
  await assertUncovered(peer, '#get-name');
  await peer.page.fill('#get-name', name);
  await assertUncovered(peer, '#get-btn');
  await peer.page.click('#get-btn');
}

/**
 * Clicks the newest "Save …" link in the transfer list with the mouse; returns the index of the
 * download this records (`captureDownloads`), for `downloadAt`.
 * @param {import('./browser.mjs').Peer} peer
 * @returns {Promise<number>}
 */
export async function clickNewestSaveLink(peer) {
  const link = '#transfers li.xfer[data-dir="get"] a.download';
  const before = await peer.page.evaluate(() => window.chordTestDownloads.length);
  await assertUncovered(peer, link);
  await peer.page.click(link);
  return before;
}

/** The download recorded at index `i` once its bytes are read (`{ name, href, b64 | error }`), else null. */
export function downloadAt(peer, i) {
  return peer.page.evaluate((i) => {
    const d = window.chordTestDownloads[i];
    return d && d.done ? { name: d.name, href: d.href, b64: d.b64, error: d.error } : null;
  }, i);
}
