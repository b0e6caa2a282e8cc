/**
 * The highest time scale at which the README's walkthrough of the three workflows (test/e2e/walkthrough.ts) gives
 * the same outcomes and the same emails as at scale 1, on this machine. Scales are tried upwards from the highest
 * the README supports; the first that differs ends the search, and what differed is printed.
 */
import { isDeepStrictEqual } from 'node:util';
import { walkthrough } from '../e2e/walkthrough';

const SCALES = [3_600, 14_400, 36_000, 86_400, 360_000];

export async function benchTimeScale(print: (line: string) => void): Promise<void> {
  const started = performance.now();
  const reference = await walkthrough(1);
  print(`time scale: walkthrough of the three workflows at scale 1 in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  let highest = 1;
  for (const scale of SCALES) {
    const t0 = performance.now();
    const result = await walkthrough(scale).catch((err: Error) => ({ outcomes: { error: err.message }, emails: {} }));
    const seconds = ((performance.now() - t0) / 1000).toFixed(0);
    if (!isDeepStrictEqual(result, reference)) {
      print(`time scale ${scale}: differs from scale 1 (${seconds} s): ${JSON.stringify(diff(reference, result))}`);
      break;
    }
    print(`time scale ${scale}: same outcomes and emails as at scale 1 (${seconds} s)`);
    highest = scale;
  }
  print(`highest working time scale: ${highest}${highest === SCALES[SCALES.length - 1] ? ' (the highest tried)' : ''}`);
}

function diff(a: object, b: object): Record<string, unknown> {
  const flat = (o: unknown, prefix = ''): Record<string, unknown> =>
    o && typeof o === 'object' ? Object.assign({}, ...Object.entries(o).map(([k, v]) => flat(v, `${prefix}${prefix ? '.' : ''}${k}`))) : { [prefix]: o };
  const fa = flat(a);
  const fb = flat(b);
  return Object.fromEntries(
    [...new Set([...Object.keys(fa), ...Object.keys(fb)])].filter((k) => !isDeepStrictEqual(fa[k], fb[k])).map((k) => [k, { scale1: fa[k], this: fb[k] }]),
  );
}
