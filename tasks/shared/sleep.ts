/**
 * Waits until `Date.now()` has moved `ms` on. It looks at the clock every few milliseconds instead of setting one
 * timer of `ms`, so it follows whatever clock `Date` is: on Lambda the wall clock, in the local runtime its virtual
 * clock (which may run faster than timers). A wait "of a second" is then a second of the clock that the service's
 * rates are counted on, whatever the timers do.
 */
export async function sleep(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) await new Promise((resolve) => setTimeout(resolve, Math.min(10, until - Date.now())));
}
