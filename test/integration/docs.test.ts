// The API documentation page in a real browser: Debian's chromium, headless, driven by playwright-core (one browser
// for both checks; playwright gives it a fresh profile). The page must render every path of the contract from files
// Berth serves itself (any request elsewhere is blocked and fails the test, so it works with no internet), show the
// YAML examples, raise no script or Content-Security-Policy error, and run "try it out" for GET /healthz. Screenshots
// go to test-output/docs/ (git-ignored); their paths are printed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROJECT_ROOT, startBerth, type BerthProcess } from '../helpers/berth.js';
import { contract } from '../../src/contract/openapi.js';
import { rawRequest } from '../helpers/raw-http.js';

const CHROMIUM = '/usr/bin/chromium';
/** How Chromium must start on these machines (no sandbox as root, no GPU, nothing fetched in the background). */
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const OUTPUT = join(PROJECT_ROOT, 'test-output', 'docs');
/** Swagger UI fetches the document and renders it; on a loaded machine that takes a while. Not a timing check. */
const RENDERED_WITHIN_MS = 120_000;

let berth: BerthProcess;
let browser: Browser;
let page: Page;
const problems: string[] = [];
const elsewhere: string[] = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install-test-deps.sh installs Debian's chromium`);
  mkdirSync(OUTPUT, { recursive: true });
  [berth, browser] = await Promise.all([
    startBerth({ env: { BERTH_METRICS_ANONYMOUS: 'true' } }),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS }),
  ]);
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${berth.url}/`) || url.startsWith('data:')) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
});

after(async () => {
  await browser?.close();
  assert.equal(await berth?.stop(), 0);
});

const operation = (method: string, path: string) => page.locator(`.opblock-${method}:has(.opblock-summary-path[data-path="${path}"])`);

describe('the docs page in chromium', () => {
  it('renders every path of the contract, from Berth alone, with the YAML examples', async (t) => {
    const answer = await page.goto(`${berth.url}/docs`);
    assert.equal(answer?.status(), 200);
    assert.match(answer?.headers()['content-security-policy'] ?? '', /script-src 'self';/);
    const paths = Object.keys(contract.paths as object);
    await page.locator('.opblock-summary-path').nth(paths.length - 1).waitFor({ timeout: RENDERED_WITHIN_MS });
    const shown = new Set(await page.locator('.opblock-summary-path').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-path'))));
    assert.deepEqual(paths.filter((path) => !shown.has(path)), [], 'every path of openapi/berth.yaml is on the page');
    for (const outside of ['/healthz', '/readyz', '/metrics']) assert.ok(shown.has(outside), `${outside} is documented beside the contract`);

    const create = operation('post', '/v1/config/image-registry/remote-registries');
    await create.locator('.opblock-summary').click();
    await create.locator('.opblock-section-request-body select').selectOption('application/yaml');
    const example = create.locator('.opblock-section-request-body .highlight-code');
    await example.filter({ hasText: 'override-address: registry.example.com:6000' }).waitFor({ timeout: RENDERED_WITHIN_MS });
    assert.match(await example.innerText(), /^address: registry\.example\.com\n.*credentials:\n\s+- repository: '\*'/s);
    assert.match(await operation('get', '/metrics').innerText(), /Prometheus metrics/);

    const screenshot = join(OUTPUT, 'docs-page.png');
    await page.screenshot({ path: screenshot, fullPage: false });
    t.diagnostic(`screenshot: ${screenshot}`);
    assert.deepEqual(problems, [], 'no script or Content-Security-Policy errors');
    assert.deepEqual(elsewhere, [], 'the page asks nothing of anyone but this Berth');
  });

  it('serves only its own files, in one spelling; /metrics is open here (BERTH_METRICS_ANONYMOUS=true)', async () => {
    const cases: [string, number][] = [
      ['/docs/init.js', 200],
      ['/docs/openapi.json', 200],
      ['/docs/swagger-ui.css', 200],
      ['/metrics', 200],
      ['/docs/index.html', 404],
      ['/docs/package.json', 404],
      ['/docs/swagger-ui-bundle.js.map', 404],
      ['/docs/a%2Fb', 404],
      ['/Docs', 404],
      ['/docs/', 400],
      ['/docs//init.js', 400],
      ['/docs/%2e%2e/package.json', 400],
      ['/docs/..%2Fpackage.json', 400],
      ['/docs/%69nit.js', 400],
      ['/metrics/', 400],
    ];
    // Sent as written (fetch would resolve the dot segments before sending).
    for (const [path, status] of cases) assert.equal((await rawRequest(berth.url, { method: 'GET', path })).status, status, path);
    const document = (await (await fetch(`${berth.url}/docs/openapi.json`)).json()) as { paths: Record<string, { get?: { security?: unknown[] } }> };
    assert.deepEqual(document.paths['/metrics']?.get?.security, [], 'documented as open');
  });

  it('"try it out" runs GET /healthz against this Berth', async (t) => {
    const health = operation('get', '/healthz');
    await health.locator('.opblock-summary').click();
    await health.locator('button.try-out__btn').click();
    await health.locator('button.execute').click();
    const status = health.locator('.live-responses-table tbody .response-col_status').first();
    await status.filter({ hasText: '200' }).waitFor({ timeout: RENDERED_WITHIN_MS });
    assert.match(await health.locator('.live-responses-table tbody .response-col_description').first().innerText(), /"status": "ok"/);
    assert.match(await health.locator('.request-url').innerText(), new RegExp(`${berth.url}/healthz`));
    const screenshot = join(OUTPUT, 'try-it-out-healthz.png');
    await health.screenshot({ path: screenshot });
    t.diagnostic(`screenshot: ${screenshot}`);
    assert.deepEqual(problems, []);
    assert.deepEqual(elsewhere, []);
  });
});
