/**
 * The Chromium every browser test uses, started the way this machine allows (no network but loopback):
 * - CHROMIUM_PATH, or Debian's /usr/bin/chromium when it is installed;
 * - otherwise the Chromium that the `@sparticuz/chromium` npm package carries in its tarball (so a machine with
 *   Node and npm only runs the browser tests too), with the same desktop flags as Debian's. OPSFLOW_CHROMIUM=bundled
 *   forces it. Not with the package's own flags (`Sparticuz.args`): they are made for Lambda, where one page lives
 *   per process: `--single-process` and `--no-zygote` close the browser with the first test's page ("Target page,
 *   context or browser has been closed"), and `--disable-web-security` would switch off the very Origin and CSP
 *   rules the console's tests check.
 * Under OPSFLOW_REQUIRE_TOOLS=1 (CI, which installs Debian's chromium) a missing system Chromium is an error.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { requireTools } from '../tools';

const OFFLINE_ARGS = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** A desktop browser, one process per site as usual; the sandbox needs user namespaces a container may not have. */
export const DESKTOP_ARGS = ['--no-sandbox', ...OFFLINE_ARGS];

export async function launchChromium(): Promise<Browser> {
  const system = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (process.env.OPSFLOW_CHROMIUM !== 'bundled' && existsSync(system)) {
    return chromium.launch({ executablePath: system, args: DESKTOP_ARGS });
  }
  if (requireTools) {
    throw new Error(`no Chromium at ${system} (apt-get install chromium); OPSFLOW_REQUIRE_TOOLS=1 does not fall back to the npm one`);
  }
  return chromium.launch({ executablePath: await bundledChromium(), args: DESKTOP_ARGS });
}

/**
 * The package unpacks its Brotli archives into os.tmpdir() and reuses whatever `chromium` it finds there, which
 * is unsafe when two test files start at once (one would launch the other's half-written binary) or when an
 * older unpack is lying around. So each version unpacks once into its own private directory, which is renamed
 * into place only when complete: whoever loses the race uses the winner's copy.
 */
async function bundledChromium(): Promise<string> {
  const { default: Sparticuz } = await import('@sparticuz/chromium');
  // The package exports no ./package.json; its entry point sits in build/cjs/.
  const manifest = join(dirname(require.resolve('@sparticuz/chromium')), '..', '..', 'package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  const root = join(tmpdir(), `opsflow-chromium-${version}-${process.getuid?.() ?? 0}`);
  const binary = join(root, 'chromium');
  if (!existsSync(join(root, 'complete'))) {
    mkdirSync(tmpdir(), { recursive: true });
    const staging = mkdtempSync(`${root}.staging-`);
    const savedTmp = process.env.TMPDIR;
    let unpacking: Promise<string>;
    // os.tmpdir() is read synchronously when the unpack starts; point it at the staging directory for that moment.
    process.env.TMPDIR = staging;
    try {
      unpacking = Sparticuz.executablePath();
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
    await unpacking;
    if (!existsSync(join(staging, 'chromium'))) throw new Error(`@sparticuz/chromium did not unpack into ${staging}`);
    writeFileSync(join(staging, 'complete'), version);
    try {
      renameSync(staging, root);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process finished first
    }
  }
  return binary;
}
