// Firefox in a lab host's network namespace, as puppeteer-core's `executablePath`
// (tests/netlab/run.sh writes /run/netlab/firefox-HOST, which runs this):
//
//   node firefox-netns.mjs HOST FIREFOX_BINARY FIREFOX_ARGS…
//
// Why a bridge and not a two-line wrapper like Chromium's: playwright talks to Chromium over the
// debugging pipe (file descriptors 3 and 4 survive `ip netns exec`), but puppeteer drives Firefox
// over WebDriver BiDi on a WebSocket only (it refuses `--remote-debugging-pipe` for Firefox). It
// reads "WebDriver BiDi listening on ws://127.0.0.1:PORT" from the browser's stderr and connects
// to that port from ITS namespace (the lab's ctl), where HOST's 127.0.0.1 does not exist. So this
// listens on 127.0.0.1:0 where it runs, gives Firefox that same port number in HOST
// (`ip netns exec HOST FIREFOX_BINARY … --remote-debugging-port=PORT`, replacing puppeteer's 0), and
// carries each connection into HOST through `ip netns exec HOST node firefox-netns.mjs --connect
// PORT` (a socket belongs to the namespace of the process that makes it; node cannot switch
// namespaces itself). The port numbers must be equal: Firefox answers 400 to a WebSocket handshake
// whose Host header names another port than its own (DNS-rebinding guard). Everything on stderr and
// stdout passes through; the wrapper exits with Firefox.

import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);

/** `--connect PORT` (runs inside HOST): stdin → 127.0.0.1:PORT → stdout. */
function connect(port) {
  const sock = net.connect(port, '127.0.0.1');
  process.stdin.pipe(sock);
  sock.pipe(process.stdout);
  sock.on('error', (e) => {
    process.stderr.write(`firefox-netns: 127.0.0.1:${port}: ${e.message}\n`);
    process.exit(1);
  });
  sock.on('close', () => process.exit(0));
  process.stdin.on('end', () => sock.end());
}

/** A TCP server on 127.0.0.1:0 here whose connections reach the same port inside `host`. */
function bridge(host) {
  const server = net.createServer((client) => {
    const { port } = server.address();
    const inner = spawn('ip', ['netns', 'exec', host, process.execPath, SELF, '--connect', String(port)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    client.pipe(inner.stdin);
    inner.stdout.pipe(client);
    const end = () => {
      client.destroy();
      inner.kill();
    };
    client.on('error', end);
    client.on('close', end);
    inner.on('exit', () => client.destroy());
    inner.stdin.on('error', () => {});
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

async function main(host, binary, args) {
  const port = await bridge(host);
  const firefoxArgs = args.map((a) => (a.startsWith('--remote-debugging-port=') ? `--remote-debugging-port=${port}` : a));
  if (!firefoxArgs.includes(`--remote-debugging-port=${port}`)) firefoxArgs.push(`--remote-debugging-port=${port}`);
  const firefox = spawn('ip', ['netns', 'exec', host, binary, ...firefoxArgs], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => firefox.kill(sig));
  firefox.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const argv = process.argv.slice(2);
if (argv[0] === '--connect') {
  connect(Number(argv[1]));
} else if (argv.length >= 2) {
  await main(argv[0], argv[1], argv.slice(2));
} else {
  process.stderr.write('usage: firefox-netns.mjs HOST FIREFOX_BINARY [ARGS…]  (inside tests/netlab/run.sh)\n');
  process.exit(2);
}
