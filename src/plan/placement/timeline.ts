// The printable memory plan: schedule steps down, arena offsets across, one character per
// buffer, as TFLite Micro prints its plans. It is for people reading a plan or a test failure;
// nothing parses it.

import { lowerBound } from './bounds.js';
import { compareNames } from './problem.js';
import type { PlacedBuffer, Placement } from './types.js';

export interface TimelineOptions {
  /** Characters across the arena; 64 when not given. */
  width?: number;
  /** Names of the schedule steps (usually the node run at each step), indexed by step. */
  steps?: readonly string[];
}

/** Past these 62 the chart repeats FALLBACK; the legend still tells every buffer apart. */
const SYMBOLS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const FALLBACK = '*';
const EMPTY = '.';
/** Columns between two labels of the offset ruler. */
const RULER_SPACING = 16;
const RULER_NAME = 'offset';

export function renderTimeline(placement: Placement, options: TimelineOptions = {}): string {
  const width = Math.max(1, Math.floor(options.width ?? 64));
  const { buffers, size } = placement;
  const summary = `arena ${size} bytes, lower bound ${lowerBound(buffers)} bytes`;
  const title = `memory plan by ${placement.algorithm}:`;
  if (buffers.length === 0) return `${title} no buffers\n${summary}\n`;

  // 1. Symbols in reading order: by first use, then from the bottom of the arena up.
  const sorted = [...buffers].sort(
    (a, b) => a.firstUse - b.firstUse || a.offset - b.offset || compareNames(a.name, b.name),
  );
  const symbol = new Map(sorted.map((b, i) => [b, SYMBOLS[i] ?? FALLBACK]));

  // 2. One row per step, labelled with its number and, when known, its name.
  const first = Math.min(...buffers.map((b) => b.firstUse));
  const last = Math.max(...buffers.map((b) => b.lastUse));
  const labels: string[] = [];
  for (let step = first; step <= last; step++) labels.push(stepLabel(step, options.steps));
  const labelWidth = Math.max(RULER_NAME.length, ...labels.map((l) => l.length));
  const rows = labels.map((label, k) => {
    const cells = drawStep(sorted, first + k, size, width, symbol);
    return `${label.padEnd(labelWidth)} |${cells}|`;
  });

  // 3. Header, offset ruler, chart, legend, and how far the arena is from the lower bound.
  const perColumn = size / width;
  const header =
    `${title} ${buffers.length} buffers, steps ${first}-${last}, ` +
    `${Number.isInteger(perColumn) ? perColumn : perColumn.toFixed(1)} bytes per column`;
  const ruler = `${RULER_NAME.padEnd(labelWidth)}  ${offsetRuler(size, width)}`;
  const ratio = (size / lowerBound(buffers)).toFixed(3);
  const table = legend(sorted, symbol);
  return [header, ruler, ...rows, ...table, `${summary} (${ratio})`, ''].join('\n');
}

function stepLabel(step: number, names: readonly string[] | undefined): string {
  const name = names?.[step];
  return name === undefined ? String(step) : `${step} ${name}`;
}

/**
 * The cells of one step. A buffer covers every column its bytes touch, at least one. Larger
 * buffers are drawn first so that a small one sharing a column with them stays visible.
 */
function drawStep(
  buffers: readonly PlacedBuffer[],
  step: number,
  arena: number,
  width: number,
  symbol: ReadonlyMap<PlacedBuffer, string>,
): string {
  const cells = new Array<string>(width).fill(EMPTY);
  const live = buffers
    .filter((b) => b.firstUse <= step && step <= b.lastUse)
    .sort((a, b) => b.size - a.size || compareNames(a.name, b.name));
  for (const b of live) {
    const from = Math.floor((b.offset * width) / arena);
    const to = Math.max(from + 1, Math.ceil(((b.offset + b.size) * width) / arena));
    cells.fill(symbol.get(b) ?? FALLBACK, from, to);
  }
  return cells.join('');
}

/**
 * The offset at every RULER_SPACING-th column, each label starting at its column, and the arena
 * size just right of the chart's closing bar. A label that would touch the previous one is left
 * out.
 */
function offsetRuler(arena: number, width: number): string {
  let ruler = '';
  const put = (column: number, label: string) => {
    if (column === 0 || ruler.length < column) ruler = ruler.padEnd(column) + label;
  };
  for (let column = 0; column < width; column += RULER_SPACING) {
    put(column, String(Math.round((column * arena) / width)));
  }
  put(width + 1, String(arena));
  return ruler;
}

/** A table: symbol, name, size, offset, alignment and lifetime of each buffer. */
function legend(
  buffers: readonly PlacedBuffer[],
  symbol: ReadonlyMap<PlacedBuffer, string>,
): string[] {
  const header = ['', 'buffer', 'size', 'offset', 'align', 'steps'];
  const rightAligned = [false, false, true, true, true, false];
  const rows = buffers.map((b) => [
    symbol.get(b) ?? FALLBACK,
    b.name,
    String(b.size),
    String(b.offset),
    String(b.alignment),
    `${b.firstUse}-${b.lastUse}`,
  ]);
  const widths = header.map((_, k) => Math.max(...[header, ...rows].map((row) => row[k].length)));
  return [header, ...rows].map((row) => {
    const cells = row.map((text, k) =>
      rightAligned[k] ? text.padStart(widths[k]) : text.padEnd(widths[k]),
    );
    return `  ${cells.join('  ')}`.trimEnd();
  });
}
