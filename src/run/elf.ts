// Flash and RAM of a linked ELF, from its section headers (objdump -h): flash is every
// allocated section loaded from a flash region (code, constants, the initial values of data),
// RAM every allocated section that lives in a RAM region (data, .bss, arena, stack).

import { execa } from 'execa';
import type { Board } from '../boards.js';
import { requireTool } from './tools.js';

export interface ElfSection {
  name: string;
  size: number;
  vma: number;
  lma: number;
  flags: string[];
}

export interface ElfSize {
  flash: number;
  ram: number;
  sections: ElfSection[];
}

export async function elfSize(elf: string, board: Board): Promise<ElfSize> {
  const objdump = requireTool(`${board.toolchain.prefix}objdump`, 'binutils-arm-none-eabi');
  const { stdout } = await execa(objdump, ['-h', elf]);
  const sections = parseSectionHeaders(stdout);
  const inKind = (address: number, kind: 'flash' | 'ram') =>
    board.memory.some((r) => r.kind === kind && address >= r.origin && address < r.origin + r.length);
  let flash = 0;
  let ram = 0;
  for (const s of sections) {
    if (!s.flags.includes('ALLOC')) continue;
    if (s.flags.includes('LOAD') && inKind(s.lma, 'flash')) flash += s.size;
    if (inKind(s.vma, 'ram')) ram += s.size;
  }
  return { flash, ram, sections };
}

export function parseSectionHeaders(text: string): ElfSection[] {
  const lines = text.split('\n');
  const out: ElfSection[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+\S+/.exec(lines[i]);
    if (!m) continue;
    const flags = (lines[i + 1] ?? '').split(',').map((f) => f.trim()).filter(Boolean);
    out.push({ name: m[1], size: Number.parseInt(m[2], 16), vma: Number.parseInt(m[3], 16), lma: Number.parseInt(m[4], 16), flags });
  }
  return out;
}
