/**
 * `npm run test:stress`: the whole suite while busy processes load every core, so a test that depends on how
 * fast the machine is fails here rather than now and then in CI. Bounded: the run is killed after
 * OPSFLOW_STRESS_MINUTES (default 30), and every load process stops by itself at that limit too, even if this
 * script is killed first. Extra arguments go to vitest (e.g. a test file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

const minutes = Number(process.env.OPSFLOW_STRESS_MINUTES ?? 30);
const limitMs = minutes * 60_000;
const cores = availableParallelism();

// Each burns one core until the limit, whatever happens to its parent.
const burn = `const end = Date.now() + ${limitMs}; while (Date.now() < end) {}`;
const load: ChildProcess[] = Array.from({ length: cores }, () => spawn(process.execPath, ['-e', burn], { stdio: 'ignore' }));

function stopLoad(): void {
  for (const p of load) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

const started = Date.now();
console.log(`test:stress: ${cores} busy processes on ${cores} cores; vitest run, at most ${minutes} min`);
const vitest = spawn(process.execPath, [require.resolve('vitest/vitest.mjs'), 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
const deadline = setTimeout(() => {
  console.error(`test:stress: still running after ${minutes} min, stopping it`);
  vitest.kill('SIGTERM');
}, limitMs);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    vitest.kill(signal);
    stopLoad();
    process.exit(130);
  });
}

vitest.on('exit', (code, signal) => {
  clearTimeout(deadline);
  stopLoad();
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  console.log(`test:stress: vitest ${signal ? `killed by ${signal}` : `exited ${code}`} after ${seconds} s under load; load stopped`);
  process.exit(code ?? 1);
});
