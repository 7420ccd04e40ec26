// Board support: the board descriptions, the linker template and the C under firmware/, built
// with the ARM toolchain for every board and run in QEMU for the emulation twin.
//
// The hello program (test/fixtures/board-hello/) prints what startup initialized and what the
// print helpers format, and the cost of a loop of known instruction count. The STM32H747
// boards have no emulator here (Renode is not installed): their ELF files are built and
// inspected. Build outputs go to test/.work/board-support/.

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import Handlebars from 'handlebars';
import { beforeAll, describe, expect, it } from 'vitest';
import { listBoards, packageRoot, type Board } from '../src/boards.js';
import { boardMacros as boardMacroList, linkerContext as boardLinkerContext } from '../src/emit/board.js';

const workDir = join(packageRoot, 'test', '.work', 'board-support');
const fixtureDir = join(packageRoot, 'test', 'fixtures', 'board-hello');
const runtimeDir = join(packageRoot, 'firmware', 'runtime');
const renodePlatformsDir = join(packageRoot, '..', 'shared', 'renode-platforms');

const warningFlags = ['-std=c99', '-O2', '-Wall', '-Wextra', '-Werror'];
const qemuTimeoutMs = 30_000;

const boards = listBoards();
const boardNamed = (name: string): Board => {
  const board = boards.find((b) => b.name === name);
  if (!board) throw new Error(`board ${name} is missing from boards/`);
  return board;
};

// ---- What a generated project derives from board.json (src/emit/board.ts). ----

/** The -D flags that the generated tlg_board_config.h defines. */
function boardMacros(board: Board): string[] {
  return boardMacroList(board).map(([name, value]) => `-D${name}=${value}`);
}

function linkerContext(board: Board) {
  return boardLinkerContext(board, `test/board-support.test.ts for board ${board.name}`);
}

function firmwareDir(board: Board): string {
  return join(packageRoot, 'firmware', 'boards', board.firmware ?? board.name);
}

// ---- Tools ----

async function requireTool(
  command: string,
  args: string[],
  debianPackage: string,
): Promise<string> {
  try {
    const { stdout } = await execa(command, args);
    return stdout;
  } catch (e) {
    const reason = (e as { code?: string }).code === 'ENOENT' ? 'is not installed' : 'does not run';
    throw new Error(`${command} ${reason}: install the Debian package ${debianPackage}`);
  }
}

async function requireToolchain(board: Board): Promise<void> {
  const gcc = `${board.toolchain.prefix}gcc`;
  await requireTool(gcc, ['--version'], 'gcc-arm-none-eabi');
  await requireTool(`${board.toolchain.prefix}readelf`, ['--version'], 'binutils-arm-none-eabi');
  const specs = await requireTool(gcc, ['-print-file-name=nano.specs'], 'gcc-arm-none-eabi');
  if (!specs.includes('/')) {
    throw new Error(
      `${gcc} has no newlib (nano.specs): install the Debian package libnewlib-arm-none-eabi`,
    );
  }
}

// ---- Building ----

interface Build {
  ok: boolean;
  elf: string;
  /** Compiler and linker messages. */
  log: string;
}

const linkerTemplate = Handlebars.compile(
  readFileSync(join(packageRoot, 'templates', 'linker.ld.hbs'), 'utf8'),
  { noEscape: true },
);

async function buildHello(
  board: Board,
  variant: string,
  extraFlags: string[] = [],
): Promise<Build> {
  const dir = join(workDir, board.name);
  mkdirSync(dir, { recursive: true });
  const script = join(dir, 'linker.ld');
  writeFileSync(script, linkerTemplate(linkerContext(board)));
  const elf = join(dir, `${variant}.elf`);
  rmSync(elf, { force: true });
  const sources = [
    join(fixtureDir, 'main.c'),
    join(fixtureDir, 'overflow.c'),
    join(runtimeDir, 'tlg_startup.c'),
    join(runtimeDir, 'tlg_print.c'),
    join(firmwareDir(board), 'startup.c'),
    join(firmwareDir(board), 'board.c'),
  ];
  const result = await execa(
    `${board.toolchain.prefix}gcc`,
    [
      ...board.toolchain.cflags,
      ...warningFlags,
      ...boardMacros(board),
      ...extraFlags,
      `-I${runtimeDir}`,
      `-T${script}`,
      ...board.toolchain.ldflags,
      `-Wl,-Map=${join(dir, `${variant}.map`)}`,
      '-o',
      elf,
      ...sources,
    ],
    { reject: false, all: true },
  );
  return { ok: result.exitCode === 0, elf, log: result.all ?? '' };
}

async function buildOrThrow(
  board: Board,
  variant: string,
  extraFlags: string[] = [],
): Promise<string> {
  const build = await buildHello(board, variant, extraFlags);
  if (!build.ok) throw new Error(`building ${variant} for ${board.name} failed:\n${build.log}`);
  return build.elf;
}

/** Address of each symbol (for Thumb functions with bit 0 set, as in the vector table). */
async function symbols(board: Board, elf: string): Promise<Map<string, number>> {
  const { stdout } = await execa(`${board.toolchain.prefix}readelf`, ['-sW', elf]);
  const table = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length >= 8 && /^\d+:$/.test(fields[0])) {
      table.set(fields[7], Number.parseInt(fields[1], 16));
    }
  }
  return table;
}

/** Address of the .vectors section and its first `count` words. */
async function vectorWords(
  board: Board,
  elf: string,
  count: number,
): Promise<{ address: number; words: number[] }> {
  const { stdout } = await execa(`${board.toolchain.prefix}readelf`, ['-x', '.vectors', elf]);
  const rows = stdout.split('\n').filter((l) => /^\s+0x[0-9a-f]+ /.test(l));
  const address = Number.parseInt(rows[0].trim().split(/\s+/)[0], 16);
  const words: number[] = [];
  for (const row of rows) {
    for (const group of row.trim().split(/\s+/).slice(1, 5)) {
      if (/^[0-9a-f]{8}$/.test(group)) words.push(Buffer.from(group, 'hex').readUInt32LE(0));
    }
  }
  return { address, words: words.slice(0, count) };
}

// ---- Running (the emulation twin) ----

interface Run {
  exitCode: number | undefined;
  lines: string[];
}

async function runInQemu(board: Board, elf: string): Promise<Run> {
  const qemu = board.emulator.qemu;
  if (!qemu) throw new Error(`${board.name} has no emulator.qemu`);
  const result = await execa(
    'qemu-system-arm',
    [
      '-M', qemu.machine,
      '-cpu', qemu.cpu,
      '-nographic',
      '-monitor', 'none',
      '-serial', 'stdio',
      '-semihosting-config', 'enable=on,target=native',
      '-icount', 'shift=0',
      '-kernel', elf,
    ],
    { reject: false, timeout: qemuTimeoutMs, input: '' },
  );
  if (result.timedOut) {
    throw new Error(`${basename(elf)} did not exit within ${qemuTimeoutMs} ms:\n${result.stdout}`);
  }
  return { exitCode: result.exitCode, lines: result.stdout.split(/\r?\n/).filter((l) => l !== '') };
}

function costOf(run: Run): { count: number; unit: string } {
  const line = run.lines.find((l) => l.startsWith('TLG COST '));
  const match = line && /^TLG COST (\d+) (\S+)$/.exec(line);
  if (!match) throw new Error(`no TLG COST line in:\n${run.lines.join('\n')}`);
  return { count: Number(match[1]), unit: match[2] };
}

// ---- Renode platform descriptions (data copied from Renode, see DESIGN.md section 5) ----

/** Peripheral name -> its lines, following `using` includes the way Renode does. */
function renodePeripherals(platformPath: string): Map<string, string> {
  const peripherals = new Map<string, string>();
  const file = join(renodePlatformsDir, basename(platformPath));
  const text = readFileSync(file, 'utf8');
  for (const using of text.matchAll(/^using "([^"]+)"/gm)) {
    for (const [name, body] of renodePeripherals(using[1])) peripherals.set(name, body);
  }
  for (const block of text.split(/\n(?=\S)/)) {
    const header = /^([A-Za-z_]\w*):/.exec(block);
    if (header) peripherals.set(header[1], (peripherals.get(header[1]) ?? '') + block);
  }
  return peripherals;
}

// ---- Tests ----

describe('board descriptions', () => {
  it('loads the three boards through listBoards()', () => {
    expect(boards.map((b) => b.name)).toEqual(
      expect.arrayContaining(['mps2-an500', 'stm32h747', 'stm32h747i-disco']),
    );
  });

  it('pairs each real board with an emulation twin of the same core and budget', () => {
    for (const board of boards.filter((b) => b.twin)) {
      const twin = boardNamed(board.twin!);
      expect(twin.kind).toBe('emulation-twin');
      expect(twin.toolchain.cflags).toEqual(board.toolchain.cflags);
      expect(twin.budget).toEqual(board.budget);
      expect(twin.core.cpu).toBe(board.core.cpu);
    }
    const twin = boardNamed('mps2-an500');
    expect(boardNamed(twin.twinOf!).twin).toBe(twin.name);
    for (const region of twin.memory) {
      expect(region.length).toBe(region.kind === 'flash' ? twin.budget.flash : twin.budget.ram);
    }
  });

  it('gives each STM32H7 clock tree the CPU clock of core.clockHz, within its limits', () => {
    for (const board of boards.filter((b) => b.clock)) {
      const clock = board.clock!;
      const { m, n, p } = clock.pll1;
      const cpuHz = (clock.sourceHz * n) / m / p / clock.prescalers.d1cpre;
      expect(cpuHz).toBe(board.core.clockHz);
      expect(cpuHz).toBeLessThanOrEqual(clock.voltageScale === 0 ? 480e6 : 400e6);
      // VOS0 (overdrive) exists only with the LDO supply.
      if (clock.voltageScale === 0) expect(board.power.supply).toBe('ldo');
    }
  });

  // The platform files are data beside the repository (../shared/renode-platforms); where a
  // checkout lacks them this check is reported as skipped.
  const renodeData = existsSync(renodePlatformsDir);
  it.runIf(renodeData)("names Renode's platform, CPU and USART as Renode does", () => {
    for (const board of boards.filter((b) => b.emulator.renode)) {
      const renode = board.emulator.renode!;
      expect(renode.platform).toMatch(/^platforms\/(cpus|boards)\/[\w-]+\.repl$/);
      const peripherals = renodePeripherals(renode.platform);
      expect(peripherals.get(renode.cpu)).toMatch(/CPU\.CortexM/);
      expect(peripherals.get(renode.cpu)).toContain(`"${board.core.cpu}"`);
      const base = board.uart.base.toString(16).toUpperCase();
      expect(peripherals.get(renode.uart)).toContain(`sysbus 0x${base}`);
    }
  });
});

async function symbolSize(board: Board, elf: string, name: string): Promise<number> {
  const { stdout } = await execa(`${board.toolchain.prefix}nm`, ['-S', '-t', 'd', elf]);
  const line = stdout.split('\n').find((l) => l.trim().endsWith(` ${name}`));
  if (!line) throw new Error(`no symbol ${name} in ${elf}`);
  return Number(line.trim().split(/\s+/)[1]);
}

describe.each(boards.map((b) => [b.name, b] as const))('board support of %s', (name, board) => {
  let hello: string;

  beforeAll(async () => {
    await requireToolchain(board);
    if (board.emulator.qemu) await requireTool('qemu-system-arm', ['--version'], 'qemu-system-arm');
    hello = await buildOrThrow(board, 'hello');
  });

  it('fits its support in what support.flashBytes and support.ramBytes declare', async () => {
    const table = await symbols(board, hello);
    // The hello program's own main is not board support (generated projects count their
    // application apart).
    const flashUsed = table.get('__tlg_flash_used')! - (await symbolSize(board, hello, 'main'));
    const staticRam = table.get('__tlg_ram_used')! - board.support.stackBytes;
    expect(flashUsed).toBeGreaterThan(0);
    expect(flashUsed).toBeLessThanOrEqual(board.support.flashBytes);
    expect(staticRam).toBeLessThanOrEqual(board.support.ramBytes);
  });

  it('puts the vector table first in flash: stack top, then a Thumb reset handler', async () => {
    const flash = board.memory.find((r) => r.holds.includes('code'))!;
    const table = await symbols(board, hello);
    const { address, words } = await vectorWords(board, hello, 2);
    expect(address).toBe(flash.origin);
    expect(table.get('tlg_vectors')).toBe(flash.origin);
    expect(words[0]).toBe(table.get('__tlg_stack_top'));
    expect(words[1]).toBe(table.get('tlg_reset_handler'));
    expect(words[1] & 1).toBe(1);
  });

  it('fails to link a program whose RAM use exceeds the budget, naming the budget', async () => {
    const build = await buildHello(board, 'over-ram', [
      `-DOVERFLOW_ARENA_BYTES=${board.budget.ram + 16}`,
      '-Wl,-u,overflow_arena',
    ]);
    expect(build.ok).toBe(false);
    expect(build.log).toContain(`RAM use exceeds the RAM budget of ${board.budget.ram} bytes`);
  });

  it('fails to link a program whose flash use exceeds the budget, naming the budget', async () => {
    const build = await buildHello(board, 'over-flash', [
      `-DOVERFLOW_WEIGHT_BYTES=${board.budget.flash + 16}`,
      '-Wl,-u,overflow_weights',
    ]);
    expect(build.ok).toBe(false);
    const message = `flash use exceeds the flash budget of ${board.budget.flash} bytes`;
    expect(build.log).toContain(message);
  });

  if (linkerContext(board).spillRegion) {
    it('counts RAM in the spill region against the same budget', async () => {
      const half = Math.ceil(board.budget.ram / 2);
      const both = ['-Wl,-u,overflow_arena', '-Wl,-u,overflow_spill'];
      const over = await buildHello(board, 'over-split', [
        `-DOVERFLOW_ARENA_BYTES=${half}`,
        `-DOVERFLOW_SPILL_BYTES=${half}`,
        ...both,
      ]);
      expect(over.ok).toBe(false);
      expect(over.log).toContain(`RAM use exceeds the RAM budget of ${board.budget.ram} bytes`);
      const quarter = Math.floor(board.budget.ram / 4);
      const fits = await buildHello(board, 'split', [
        `-DOVERFLOW_ARENA_BYTES=${quarter}`,
        `-DOVERFLOW_SPILL_BYTES=${quarter}`,
        ...both,
      ]);
      expect(fits.ok, fits.log).toBe(true);
    });
  }

  if (board.power.supply !== 'none') {
    it('does not build without its power supply macro', async () => {
      const withoutPower = boardMacros(board).filter((d) => !d.startsWith('-DTLG_POWER_'));
      const result = await execa(
        `${board.toolchain.prefix}gcc`,
        [
          ...board.toolchain.cflags,
          ...warningFlags,
          ...withoutPower,
          `-I${runtimeDir}`,
          '-c',
          '-o',
          '/dev/null',
          join(firmwareDir(board), 'board.c'),
        ],
        { reject: false, all: true },
      );
      expect(result.exitCode).not.toBe(0);
      expect(result.all).toContain('define exactly one of TLG_POWER_LDO and TLG_POWER_SMPS');
    });
  }

  if (board.emulator.qemu) {
    const qemu = board.emulator.qemu;

    it('runs in QEMU: prints, initializes, exits with 0, costs the same twice', async () => {
      const first = await runInQemu(board, hello);
      const second = await runInQemu(board, hello);
      expect(first.exitCode).toBe(0);
      expect(first.lines).toEqual([
        'TLG HELLO',
        'TLG INIT data=0x12345678 ram_init=01020304 bss=0x00000000 weights=a1b2',
        'TLG PRINT -9223372036854775808 18446744073709551615 -42 0 0xdeadbeef',
        expect.stringMatching(/^TLG COST \d+ \S+$/),
      ]);
      expect(costOf(first).unit).toBe(board.cost.unit);
      expect(costOf(second)).toEqual(costOf(first));
      expect(second.exitCode).toBe(0);
    });

    it('counts instructionsPerTick executed instructions per cost tick', async () => {
      // 2 instructions per iteration; enough of them that the few instructions around the
      // loop and the SysTick wraps vanish in the rounding.
      const iterations = 10_000_000;
      const elf = await buildOrThrow(board, 'calibrate', [
        `-DHELLO_LOOP_ITERATIONS=${iterations}u`,
      ]);
      const measured = (2 * iterations) / costOf(await runInQemu(board, elf)).count;
      expect(measured).toBeCloseTo(qemu.instructionsPerTick, 3);
    });

    it('reports a fault with its name and pc, and exits with 3', async () => {
      const elf = await buildOrThrow(board, 'fault', ['-DHELLO_FAULT']);
      const run = await runInQemu(board, elf);
      expect(run.exitCode).toBe(3);
      expect(run.lines.at(-1)).toMatch(/^TLG FAULT UsageFault pc=0x[0-9a-f]{8} /);
    });
  } else {
    it('returns the cost unit of board.json (built only: no emulator here)', () => {
      const image = readFileSync(hello);
      expect(image.includes(Buffer.from(`${board.cost.unit}\0`))).toBe(true);
    });
  }
});
