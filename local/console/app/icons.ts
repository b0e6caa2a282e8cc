/// <reference lib="dom" />
/**
 * Status icons as inline SVG, drawn in the text's colour: a glyph such as ⌛ renders as an empty box where no
 * installed font has it (Debian's chromium with DejaVu and Liberation only), and the console loads no web fonts.
 * Every icon sits next to a word: status never depends on the icon (or the colour) alone.
 */
import { s } from './dom';

export type IconName = 'check' | 'cross' | 'dot' | 'clock' | 'square' | 'half' | 'caught' | 'ring';

/** 16×16 shapes; `stroke` ones are outlines, the rest are filled. */
const SHAPES: Record<IconName, () => SVGElement[]> = {
  check: () => [s('path', { d: 'M3 8.5l3.2 3.2L13 4.8', class: 'stroke' })],
  cross: () => [s('path', { d: 'M4 4l8 8M12 4l-8 8', class: 'stroke' })],
  dot: () => [s('circle', { cx: 8, cy: 8, r: 4.5, class: 'fill' })],
  clock: () => [s('circle', { cx: 8, cy: 8, r: 6, class: 'stroke' }), s('path', { d: 'M8 4.5V8l2.5 2', class: 'stroke' })],
  square: () => [s('rect', { x: 3.5, y: 3.5, width: 9, height: 9, rx: 1, class: 'fill' })],
  half: () => [s('circle', { cx: 8, cy: 8, r: 6, class: 'stroke' }), s('path', { d: 'M8 2a6 6 0 0 1 0 12z', class: 'fill' })],
  caught: () => [s('path', { d: 'M3.5 3v4.5a3 3 0 0 0 3 3H13M10 7.5l3 3-3 3', class: 'stroke' })],
  ring: () => [s('circle', { cx: 8, cy: 8, r: 5.5, class: 'stroke' })],
};

/** Which icon a status word gets (execution, state, approval, instance and schedule statuses alike). */
const BY_STATUS: Record<string, IconName> = {
  succeeded: 'check',
  approved: 'check',
  enabled: 'check',
  failed: 'cross',
  rejected: 'cross',
  terminated: 'cross',
  running: 'dot',
  pending: 'dot',
  'timed-out': 'clock',
  expired: 'clock',
  aborted: 'square',
  stopped: 'square',
  closed: 'square',
  disabled: 'square',
  stopping: 'half',
  'shutting-down': 'half',
  caught: 'caught',
  'not-reached': 'ring',
};

/** `RUNNING`, `timed_out`, `Not reached` → the key BY_STATUS uses. */
export function statusKey(status: string): string {
  return status.toLowerCase().replace(/[_\s]+/g, '-');
}

export function iconFor(status: string): IconName {
  return BY_STATUS[statusKey(status)] ?? 'dot';
}

/** An inline icon for HTML (hidden from screen readers: the word next to it says the same). */
export function icon(name: IconName): SVGSVGElement {
  return s('svg', { class: 'icon', viewBox: '0 0 16 16', width: 12, height: 12, 'aria-hidden': 'true', focusable: 'false' }, SHAPES[name]());
}

/** The icon inside an SVG drawing (the graph), at x, y. */
export function svgIcon(name: IconName, x: number, y: number, size: number): SVGSVGElement {
  return s('svg', { class: 'icon', x, y, width: size, height: size, viewBox: '0 0 16 16', 'aria-hidden': 'true' }, SHAPES[name]());
}

/** Replaces an icon's shapes (the graph re-colours in place). */
export function setIcon(el: SVGSVGElement, name: IconName): void {
  el.replaceChildren(...SHAPES[name]());
}
