// Small helpers for writing C: identifiers, types, array initializers wrapped to the page.

import type { IrDType } from '../ir/ir.js';

export function ctype(dtype: IrDType): string {
  switch (dtype) {
    case 'int8':
      return 'int8_t';
    case 'int16':
      return 'int16_t';
    case 'uint16':
      return 'uint16_t';
    case 'int32':
      return 'int32_t';
  }
}

export function width(dtype: IrDType): number {
  return dtype === 'int8' ? 1 : dtype === 'int32' ? 4 : 2;
}

/** A C identifier from any name: letters, digits and underscores, not starting with a digit. */
export function identifier(name: string): string {
  const s = name
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  return /^[0-9]/.test(s) || s === '' ? `m_${s}` : s;
}

/** Comma-separated values wrapped at `width` columns, each line indented. */
export function initializer(values: ArrayLike<number>, indent = '    ', lineWidth = 96): string {
  const lines: string[] = [];
  let line = '';
  for (let i = 0; i < values.length; i++) {
    const item = `${values[i]},`;
    if (line.length + item.length + 1 + indent.length > lineWidth && line) {
      lines.push(indent + line.trimEnd());
      line = '';
    }
    line += `${item} `;
  }
  if (line) lines.push(indent + line.trimEnd());
  return lines.join('\n');
}

/** A C comment's text, safe to put inside one. */
export function commentText(text: string): string {
  return text.replace(/\*\//g, '* /').replace(/\n/g, ' ');
}

/** An int32 literal (INT32_MIN cannot be written as a negated literal). */
export function int32Literal(v: number): string {
  return v === -2147483648 ? '(-2147483647 - 1)' : String(v);
}
