// Board descriptions: data files under boards/<name>/board.json, validated here.
//
// A board names its core and compile flags, its memory regions, the budget the whole firmware
// must fit in, what its own board support costs, and how it is emulated. Everything that
// differs between boards lives in that file (and in firmware/boards/<name>/ for its C code),
// so that adding a board is adding data.

import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { diagnostics } from './diagnostics.js';

/** The repository (or installed package) root: boards/, templates/, firmware/ live there. */
export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'boards'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the tinylstm-gen package root above ${start}`);
    dir = parent;
  }
}

/** Parses sizes written as bytes (`4096`), `486K`, `112KiB`, `1M`, `1MiB`, `0x20000`. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 ? text : undefined;
  const s = text.trim();
  if (/^0x[0-9a-f]+$/i.test(s)) return Number.parseInt(s, 16);
  const m = /^(\d+(?:\.\d+)?)\s*(k|kb|kib|m|mb|mib|b)?$/i.exec(s);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1;
  const value = Number.parseFloat(m[1]) * factor;
  return Number.isInteger(value) ? value : undefined;
}

const size = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (bytes, 486K, 112KiB, 1M or 0x...)` });
    return z.NEVER;
  }
  return n;
});

const address = z.string().regex(/^0x[0-9a-fA-F]+$/, 'an address is written 0x...').transform((s) => Number.parseInt(s, 16));

const memoryRegion = z.object({
  /** Linker region name, also used in reports. */
  name: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
  origin: address,
  length: size,
  kind: z.enum(['flash', 'ram']),
  /** What the planner may put there, in order of preference among regions of the same kind. */
  holds: z.array(z.enum(['code', 'weights', 'arena', 'state', 'stack', 'data', 'fast-weights'])),
  description: z.string(),
});

const positiveInt = (max: number) => z.number().int().min(1).max(max);
const divisorOf = (...allowed: number[]) =>
  z.number().refine((n) => allowed.includes(n), `one of ${allowed.join(', ')}`);
/** RCC D1CPRE and HPRE divide by 1, 2, 4, 8, 16, 64, 128, 256 or 512 (there is no 32). */
const ahbDivisor = divisorOf(1, 2, 4, 8, 16, 64, 128, 256, 512);
const apbDivisor = divisorOf(1, 2, 4, 8, 16);

/**
 * The STM32H7 clock tree as the board support programs it (RCC, PWR, FLASH). The C reads these
 * values as TLG_CLK_* macros from the generated board header (firmware/boards/README.md); the
 * resulting CPU clock must equal `core.clockHz`, which the C checks at compile time.
 */
const stm32h7Clock = z.object({
  description: z.string(),
  /** Oscillator feeding PLL1: the internal 64 MHz HSI (no crystal needed) or the HSE. */
  source: z.enum(['hsi', 'hse']),
  sourceHz: z.number().int().positive(),
  /** HSE driven by an external clock signal (bypass) instead of a crystal. */
  hseBypass: z.boolean().optional(),
  /** VOS0 (overdrive, up to 480 MHz, LDO supply only) or VOS1 (up to 400 MHz). */
  voltageScale: z.union([z.literal(0), z.literal(1)]),
  /** PLL1: ref = source / m, vco = ref * n, sysclk = vco / p; the q and r outputs are unused. */
  pll1: z.object({
    m: positiveInt(63),
    n: z.number().int().min(4).max(512),
    p: positiveInt(128),
    q: positiveInt(128),
    r: positiveInt(128),
  }),
  /** Divisors (not register encodings) of the D1/D2/D3 domain prescalers. */
  prescalers: z.object({
    d1cpre: ahbDivisor,
    hpre: ahbDivisor,
    d1ppre: apbDivisor,
    d2ppre1: apbDivisor,
    d2ppre2: apbDivisor,
    d3ppre: apbDivisor,
  }),
  /** FLASH_ACR: wait states (LATENCY) and programming delay (WRHIGHFREQ) for the AXI clock. */
  flash: z.object({
    latency: z.number().int().min(0).max(15),
    programmingDelay: z.number().int().min(0).max(3),
  }),
});

export const boardSchema = z.object({
  name: z.string(),
  description: z.string(),
  /** A real board, or an emulation twin of one (then `twinOf` names it). */
  kind: z.enum(['board', 'emulation-twin']),
  twinOf: z.string().optional(),
  /** The emulation twin used to run this board's firmware where its own emulator is missing. */
  twin: z.string().optional(),
  /**
   * The folder under firmware/boards/ that holds this board's C support, when several boards
   * share one (the STM32H747I-DISCO uses the generic STM32H747 support with other macros).
   * Default: the board name.
   */
  firmware: z.string().optional(),
  core: z.object({
    cpu: z.string(),
    /** e.g. "r1p2"; informational. */
    revision: z.string().optional(),
    dsp: z.boolean(),
    fpu: z.string(),
    clockHz: z.number().int().positive(),
    icacheBytes: z.number().int().nonnegative(),
    dcacheBytes: z.number().int().nonnegative(),
  }),
  toolchain: z.object({
    prefix: z.string(),
    debianPackages: z.array(z.string()),
    cflags: z.array(z.string()),
    ldflags: z.array(z.string()),
  }),
  memory: z.array(memoryRegion).min(1),
  budget: z.object({ flash: size, ram: size }),
  /** What the board support and runtime cost, before any model code or data. */
  support: z.object({
    stackBytes: size,
    heapBytes: size,
    flashBytes: size,
    ramBytes: size,
  }),
  power: z.object({ supply: z.enum(['smps', 'ldo', 'none']), description: z.string() }),
  clock: stm32h7Clock.optional(),
  uart: z.object({
    name: z.string(),
    base: address,
    baud: z.number().int().positive(),
    kind: z.string(),
  }),
  /** How a cost figure is measured on this board. */
  cost: z.object({ counter: z.enum(['dwt-cycles', 'systick-icount']), unit: z.string(), description: z.string() }),
  emulator: z
    .object({
      renode: z
        .object({
          platform: z.string(),
          uart: z.string(),
          cpu: z.string(),
          version: z.string(),
        })
        .optional(),
      qemu: z
        .object({
          machine: z.string(),
          cpu: z.string(),
          /** SysTick reference clock in the emulator: instructions per tick under -icount shift=0. */
          instructionsPerTick: z.number().int().positive(),
        })
        .optional(),
    })
    .default({}),
});

export type Board = z.infer<typeof boardSchema>;
export type MemoryRegion = Board['memory'][number];

export const boardsDir = join(packageRoot, 'boards');

export function listBoards(): Board[] {
  return readdirSync(boardsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(boardsDir, d.name, 'board.json')))
    .map((d) => loadBoard(d.name))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function loadBoard(name: string): Board {
  const file = join(boardsDir, name, 'board.json');
  if (!existsSync(file)) {
    const known = readdirSync(boardsDir).filter((n) => existsSync(join(boardsDir, n, 'board.json')));
    throw diagnostics.unknownBoard(name, known);
  }
  return parseBoard(readFileSync(file, 'utf8'), file);
}

export function parseBoard(text: string, file: string): Board {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw diagnostics.badBoard(file, (e as Error).message);
  }
  const result = boardSchema.safeParse(json);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw diagnostics.badBoard(file, issues);
  }
  return result.data;
}

/** The C board support of a board: firmware/boards/<name>/. */
export function boardFirmwareDir(board: Board): string {
  return join(packageRoot, 'firmware', 'boards', board.firmware ?? board.name);
}
