/**
 * Every command in the README works exactly as written: the README's ```sh blocks are this test's input, so they
 * cannot drift. The commands run in order, as a new user types them, in a copy of the project (no cdk.out, as in a
 * fresh clone: the first `npm start` synthesizes it, a later one finds it current; node_modules linked) with a fresh
 * state directory, on a port other than the default: `npm start` gets it through OPSFLOW_PORT, and every other
 * command must find it by itself (the runtime records it in its state directory).
 *
 * Substitutions, the only ones (the README says so under "The two commands"):
 *  - `4566` and `4599` in a command stand for the test's port;
 *  - `<execution-name>` is the name of the execution the last `start` printed, `<linkId>` the id the last control
 *    link was printed with, `<printed link>` the last link a command printed.
 * Not run, each for its reason: NOT_RUN. A command this test does not know how to run fails it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyProject } from './project-copy';

const NOT_RUN: Record<string, string> = {
  'npm ci': 'installs what this test runs with: it ran before the suite (.ci/run runs it on a clean checkout)',
  'npm test': 'runs this test',
  'npx cdk bootstrap': 'needs an AWS account',
  'npx cdk deploy': 'needs an AWS account',
};

/** The commands of every ```sh block, comments removed, in README order. */
function readmeBlocks(): string[][] {
  const readme = readFileSync('README.md', 'utf8');
  return [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map(([, body]) =>
    body
      .split('\n')
      .map((line) => line.replace(/\s+#\s.*$/, '').trim())
      .filter(Boolean),
  );
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((done) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as AddressInfo;
        s.close(() => done(p));
      });
    });
    if (port !== 4566 && port !== 4599) return port;
  }
}

describe('every command in the README, as written', () => {
  const project = mkdtempSync(join(tmpdir(), 'opsflow-readme-'));
  const stateDir = join(project, '.opsflow');
  let runtime: { child: ChildProcess; output: () => string; exited: Promise<void> } | undefined;
  const ran: Array<{ command: string; stdout: string }> = [];

  // A user's shell: no OPSFLOW_* settings of the test run's own.
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPSFLOW_')));
  env.OPSFLOW_STATE_DIR = stateDir;

  afterAll(async () => {
    await stopRuntime();
  });

  async function stopRuntime() {
    if (!runtime) return;
    const { child, exited } = runtime;
    runtime = undefined;
    process.kill(-child.pid!, 'SIGINT');
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }

  /** `npm start` and its variants: the runtime stays up for the commands after it, until the next one. */
  async function startRuntime(command: string, port: number) {
    await stopRuntime();
    const child = spawn('bash', ['-c', command], {
      cwd: project,
      env: { ...env, ...(command.includes('--port') ? {} : { OPSFLOW_PORT: String(port) }) },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    runtime = { child, output: () => output, exited };
    const deadline = Date.now() + 300_000;
    while (!output.includes('opsflow local runtime ready')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${command} did not get ready:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(output).toContain(`at http://127.0.0.1:${port}`);
  }

  function run(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile('bash', ['-c', command], { cwd: project, env, timeout: 120_000 }, (err, stdout, stderr) =>
        done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it('runs each command of every sh block in a copy of the project, on another port, and each one works', async () => {
    // Prepare: the project as a clone has it, with the installed node_modules.
    copyProject(project);
    const port = await freePort();
    const blocks = readmeBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(5);

    let execution: string | undefined;
    let linkId: string | undefined;
    let printedLink: string | undefined;
    const skipped: string[] = [];
    for (const block of blocks) {
      for (const written of block) {
        const reason = Object.entries(NOT_RUN).find(([c]) => written === c || written.startsWith(`${c} `))?.[1];
        if (reason) {
          skipped.push(written);
          continue;
        }
        const command = written
          .replace(/\b(4566|4599)\b/g, String(port))
          .replace(/<execution-name>/g, () => execution ?? 'no <execution-name> printed before')
          .replace(/<linkId>/g, () => linkId ?? 'no <linkId> printed before')
          .replace(/<printed link>/g, () => printedLink ?? 'no <printed link> printed before');
        if (/(^|\s)npm start\b/.test(command)) {
          await startRuntime(command, port);
          ran.push({ command: written, stdout: runtime!.output() });
          continue;
        }
        const result = await run(command);
        // Act and assess, command by command: it works (exit 0, nothing on stderr but npm's own lines).
        expect({ command: written, code: result.code, stderr: result.stderr }).toEqual({
          command: written,
          code: 0,
          stderr: expect.not.stringMatching(/Error|error:| {4}at /),
        });
        ran.push({ command: written, stdout: result.stdout });
        execution = /started arn:aws:states:[^\s]*:execution:[^:\s]+:(\S+)/.exec(result.stdout)?.[1] ?? execution;
        linkId = /\(link id ([A-Za-z0-9_-]+),/.exec(result.stdout)?.[1] ?? linkId;
        printedLink = /https?:\/\/\S+/.exec(result.stdout)?.[0] ?? printedLink;

        // What each kind of command must show for the next step of the walkthrough to work.
        if (/^npx opsflow outbox/.test(written)) {
          const links = result.stdout.match(new RegExp(`http://127\\.0\\.0\\.1:${port}/approvals/\\S+`, 'g')) ?? [];
          for (const link of links) expect({ link, status: (await fetch(link)).status }).toEqual({ link, status: 200 });
        }
        if (/^npx opsflow history/.test(written)) expect(result.stdout).toContain('ExecutionStarted');
        // The scheduled start fired above may or may not have reached this instance yet: either answer the README shows.
        if (/^curl -X POST/.test(written)) expect(result.stdout).toMatch(/^(\w+ -> \w+|not \w+( yet)?: \S)/);
        if (/ec2\/chat/.test(written)) expect(result.stdout).toMatch(/batch-/);
        if (/^npm run control-link -- i-/.test(written)) expect(result.stdout).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/ec2/control/`, 'm'));
      }
    }

    // Assess: everything the README shows was run, but the commands it cannot run here.
    expect(skipped.sort()).toEqual(['npm ci', 'npm test', 'npx cdk bootstrap', 'npx cdk deploy']);
    const starts = ran.filter((r) => /(^|\s)npm start\b/.test(r.command));
    expect(starts.length).toBeGreaterThanOrEqual(2);
    // The first `npm start` synthesized; the next ones found cdk.out newer than the sources (local/synth.ts), but
    // for one with another --config than the start before it, which synthesized again from that config.
    expect(starts[0].stdout).toContain('… cdk synth (cdk.out has no manifest)');
    const configOf = (command: string) => /--config (\S+)/.exec(command)?.[1] ?? 'opsflow.config.json';
    starts.slice(1).forEach((later, i) => {
      const [before, now] = [configOf(starts[i].command), configOf(later.command)];
      expect(later.stdout).toContain(before === now ? '… cdk synth: nothing to do' : `… cdk synth (cdk.out was synthesized from ${before}, not ${now})`);
    });
    expect(starts.some((s) => configOf(s.command) !== 'opsflow.config.json')).toBe(true);
    expect(ran.some((r) => r.command.startsWith('npx opsflow history'))).toBe(true);
  }, 1_200_000);
});
