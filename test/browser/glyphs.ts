/**
 * Finds characters that render as an empty box ("tofu"): no installed font has them, so Chromium draws the
 * missing-glyph box of its first font. Each distinct non-ASCII character of the page's text (HTML and SVG) is
 * drawn on a canvas in the page's own font and compared with a code point no font has (U+0378, unassigned):
 * a character drawn exactly like that one is a box. Debian's chromium with DejaVu and Liberation only, as
 * this machine has, lacks many symbols (⌛, for one).
 */
import type { Page } from 'playwright-core';

export async function boxGlyphs(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const chars = new Set<string>();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) for (const c of n.textContent ?? '') if (c.codePointAt(0)! > 0x7e && c.trim()) chars.add(c);
    for (const el of Array.from(document.querySelectorAll('input, textarea')))
      for (const c of (el as HTMLInputElement).value) if (c.codePointAt(0)! > 0x7e && c.trim()) chars.add(c);
    const font = getComputedStyle(document.body).font;
    const draw = (c: string): string => {
      const canvas = document.createElement('canvas');
      canvas.width = 48;
      canvas.height = 48;
      const ctx = canvas.getContext('2d')!;
      ctx.font = font.replace(/\d+(\.\d+)?px/, '32px');
      ctx.fillText(c, 4, 36);
      return canvas.toDataURL();
    };
    const box = draw('\u0378');
    return [...chars].filter((c) => draw(c) === box);
  });
}
