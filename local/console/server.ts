/**
 * Serves the browser console at `/` (one HTML page, one script and one stylesheet bundled by esbuild from
 * local/console/app/, no external assets) and the `/_opsflow/` API, behind the browser-facing guards:
 * a write must come from the runtime's own origin (or from no browser at all) with a JSON content type,
 * and every page answers with a strict Content-Security-Policy.
 */
import { build } from 'esbuild';
import { join } from 'node:path';
import type { AwsRequest, AwsResponse } from '../kernel';
import { API_PREFIX } from './api';
import { LocalApi, routeApi, type ApiDeps } from './handlers';

/** No inline script or style, nothing from another origin; frames only for the outbox's own email documents. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * An email's HTML runs in a sandbox with no script, its own styles only, and links that open a new
 * top-level tab outside the sandbox (so an approval link works as it does from a mail client).
 */
export const EMAIL_CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  'img-src data:',
  "frame-ancestors 'self'",
  'sandbox allow-popups allow-popups-to-escape-sandbox',
].join('; ');

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** The AWS Step Functions console's path (`https://<region>.console.aws.amazon.com/states/home?region=<region>#/...`). */
const AWS_CONSOLE_PATH = '/states/home';

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>opsflow local console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console.css">
<script defer src="/console.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <span class="brand">opsflow <small>local</small></span>
  <nav aria-label="Sections" id="nav"></nav>
</header>
<main id="main" tabindex="-1"><p>Loading…</p></main>
<div id="toast" role="status" aria-live="polite"></div>
<noscript><p>The opsflow console needs JavaScript. The CLI shows the same: <code>npx opsflow --help</code>.</p></noscript>
</body>
</html>
`;

interface Bundle {
  js: string;
  css: string;
}

export class ConsoleServer {
  readonly api: LocalApi;
  private bundle?: Promise<Bundle>;

  constructor(private readonly deps: ApiDeps) {
    this.api = new LocalApi(deps);
  }

  /** Bundles the console (esbuild, ~100 ms); `opsflow up` calls it at start, otherwise the first page view does. */
  prepare(): Promise<Bundle> {
    this.bundle ??= bundleConsole();
    return this.bundle;
  }

  /** Answers `/`, the console's assets and `/_opsflow/*`; undefined for every other request. */
  async handle(req: AwsRequest): Promise<AwsResponse | undefined> {
    const isApi = req.path === API_PREFIX || req.path.startsWith(`${API_PREFIX}/`);
    const isPage = req.path === '/' || req.path === '/console.js' || req.path === '/console.css' || req.path === AWS_CONSOLE_PATH;
    if (!isApi && !(isPage && req.method === 'GET')) return undefined;
    const refused = this.refuseForeign(req, isApi && req.method !== 'GET' && req.method !== 'HEAD');
    if (refused) return refused;
    // A link into the AWS Step Functions console, with this endpoint in place of AWS's console (what an app builds
    // from its AWS_ENDPOINT_URL), opens the same view here. The browser keeps the fragment (#/v2/executions/details/<arn>)
    // across the redirect (RFC 9110, 10.2.2), and the page reads it.
    if (req.path === AWS_CONSOLE_PATH) return { status: 302, headers: { location: '/', 'cache-control': 'no-store', ...SECURITY_HEADERS }, body: '' };
    if (isApi) return routeApi(this.api, (id) => this.emailDocument(id), req);
    const bundle = await this.prepare();
    if (req.path === '/console.js') return asset('text/javascript; charset=utf-8', bundle.js);
    if (req.path === '/console.css') return asset('text/css; charset=utf-8', bundle.css);
    return {
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CONSOLE_CSP, 'cache-control': 'no-store', ...SECURITY_HEADERS },
      body: HTML,
    };
  }

  /**
   * A page on another origin can send requests here (a form post, a no-cors fetch) even though it cannot
   * read the answers: a write must carry no Origin (CLI, curl) or ours, and a JSON content type, which a
   * cross-origin page can only send after a CORS preflight that this server never grants. The console's
   * own pages and assets also refuse a foreign Origin, so no other site can embed or script them.
   */
  private refuseForeign(req: AwsRequest, write: boolean): AwsResponse | undefined {
    const origin = req.headers.origin;
    const own = ownOrigins(this.deps.endpoint());
    if (origin !== undefined && !own.includes(origin)) {
      return refusal(403, 'ForeignOrigin', `requests from ${origin} are refused: the opsflow console and API answer only ${own[0]}`);
    }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none' && write) {
      return refusal(403, 'ForeignOrigin', `a ${site} write is refused: the opsflow API takes writes only from its own console or a non-browser client`);
    }
    if (write && !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      return refusal(415, 'UnsupportedMediaType', `writes to ${API_PREFIX}/ must have content-type: application/json`);
    }
    return undefined;
  }

  private emailDocument(id: string): AwsResponse {
    const message = this.deps.outbox.list().find((m) => m.id === id);
    if (!message) return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `no outbox message ${id}` };
    // Links open in a new tab: inside the sandboxed frame they would navigate only the frame.
    const html = message.html ?? `<pre>${escapeHtml(message.text)}</pre>`;
    const body = `<!doctype html><meta charset="utf-8"><base target="_blank">${html}`;
    return {
      status: 200,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': EMAIL_CSP,
        'cache-control': 'no-store',
        ...SECURITY_HEADERS,
        'cross-origin-opener-policy': 'unsafe-none',
      },
      body,
    };
  }
}

/** `http://127.0.0.1:PORT` and `http://localhost:PORT` for the runtime's endpoint. */
export function ownOrigins(endpoint: string): string[] {
  const url = new URL(endpoint);
  const port = url.port ? `:${url.port}` : '';
  return [`${url.protocol}//127.0.0.1${port}`, `${url.protocol}//localhost${port}`, `${url.protocol}//${url.host}`].filter((v, i, all) => all.indexOf(v) === i);
}

function refusal(status: number, error: string, message: string): AwsResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...SECURITY_HEADERS }, body: JSON.stringify({ error, message }) };
}

function asset(type: string, body: string): AwsResponse {
  return { status: 200, headers: { 'content-type': type, 'cache-control': 'no-cache', ...SECURITY_HEADERS }, body };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function bundleConsole(): Promise<Bundle> {
  const result = await build({
    entryPoints: [join(__dirname, 'app', 'main.ts')],
    bundle: true,
    write: false,
    outdir: 'console',
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'))?.text ?? '';
  const css = result.outputFiles.find((f) => f.path.endsWith('.css'))?.text ?? '';
  return { js, css };
}
