// The browser flags and prefs are written once, in lib/browser.mjs (CHROMIUM_ARGS) and
// lib/firefox.mjs (FIREFOX_PREFS). webdriver.json (crate root), which wasm-bindgen-test-runner
// reads for the wasm tests in headless Chromium and Firefox, is JSON and cannot import them: this
// test fails when it drifts from them. No browser is started.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AUTOMATION_ARGS, CHROMIUM_ARGS } from './lib/browser.mjs';
import { FIREFOX_PREFS } from './lib/firefox.mjs';
import { ROOT } from './lib/server.mjs';

const webdriver = JSON.parse(readFileSync(path.join(ROOT, 'webdriver.json'), 'utf8'));

test('webdriver.json gives Firefox exactly the prefs of lib/firefox.mjs', () => {
  assert.deepEqual(webdriver['moz:firefoxOptions']?.prefs, { ...FIREFOX_PREFS });
});

test('webdriver.json gives Chromium the network flags of lib/browser.mjs', () => {
  const network = CHROMIUM_ARGS.filter((a) => !AUTOMATION_ARGS.includes(a));
  const args = webdriver['goog:chromeOptions']?.args ?? [];
  for (const a of network) assert.ok(args.includes(a), `webdriver.json lacks ${a}`);
});

test('every Firefox profile is kept off the network and offers loopback candidates', () => {
  // The prefs TOOLCHAIN.md names; dropping one of them must fail here, not leak traffic.
  const required = {
    'permissions.default.microphone': 1,
    'permissions.default.camera': 1,
    'media.peerconnection.ice.loopback': true,
    'app.update.enabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'toolkit.telemetry.enabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'services.settings.server': '',
    'extensions.update.enabled': false,
    'browser.region.update.enabled': false,
    'network.trr.mode': 3,
    'network.trr.uri': 'https://127.0.0.1:9/dns-query',
    'network.dns.disablePrefetch': true,
    'app.normandy.enabled': false,
  };
  for (const [k, v] of Object.entries(required)) assert.equal(FIREFOX_PREFS[k], v, k);
});
