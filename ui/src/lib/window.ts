// The arithmetic of a windowed list: which rows are visible for a scroll position, and where
// the block of rendered rows sits. WebKitGTK clamps an element's height near 33.5M px, so a
// list taller than MAX_HEIGHT is scaled: the scrollbar maps proportionally onto the rows.

export const MAX_HEIGHT = 16_000_000;

export interface Slice {
  /** First row to render. */
  start: number;
  /** Rows to render. */
  count: number;
  /** Top of the rendered block, in px inside the spacer. */
  top: number;
  /** Height of the spacer, in px. */
  height: number;
}

export function slice(total: number, rowHeight: number, scrollTop: number, viewport: number, overscan = 10): Slice {
  const visible = Math.ceil(viewport / rowHeight) + 1;
  const natural = total * rowHeight;
  const height = Math.min(natural, MAX_HEIGHT);
  let start: number;
  let top: number;
  if (natural <= MAX_HEIGHT) {
    start = Math.floor(scrollTop / rowHeight);
    top = start * rowHeight;
  } else {
    const ratio = Math.min(1, Math.max(0, scrollTop / Math.max(1, height - viewport)));
    start = Math.round(ratio * Math.max(0, total - visible));
    top = scrollTop;
  }
  start = Math.max(0, Math.min(start, Math.max(0, total - 1)));
  const from = Math.max(0, start - overscan);
  const count = Math.max(0, Math.min(total - from, visible + 2 * overscan));
  return { start: from, count, top: top - (start - from) * rowHeight, height };
}

/** The scroll position that brings `row` to the top. */
export function scrollFor(row: number, total: number, rowHeight: number, viewport: number): number {
  const natural = total * rowHeight;
  if (natural <= MAX_HEIGHT) return row * rowHeight;
  const visible = Math.ceil(viewport / rowHeight) + 1;
  const ratio = row / Math.max(1, total - visible);
  return Math.min(1, ratio) * (MAX_HEIGHT - viewport);
}
