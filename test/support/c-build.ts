// Building and running the C test drivers: on the host with gcc, and on the Cortex-M7 of QEMU's
// mps2-an500 (the STM32H747's emulation twin) with the board's flags and macros, its support C
// under firmware/ and the linker script rendered from templates/linker.ld.hbs, as a generated
// project gets them (src/emit/board.ts).

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import Handlebars from 'handlebars';
import { listBoards, packageRoot, type Board } from '../../src/boards.js';
import { boardMacros, linkerContext } from '../../src/emit/board.js';

export const portableKernelsDir = join(packageRoot, 'firmware', 'kernels', 'portable');
export const supportDir = join(packageRoot, 'test', 'support');
export const warningFlags = ['-std=c99', '-O2', '-Wall', '-Wextra', '-Werror'];

/** test/.work/<name>/, created. */
export function workDir(name: string): string {
  const dir = join(packageRoot, 'test', '.work', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function compile(compiler: string, args: string[], what: string): Promise<void> {
  const result = await execa(compiler, args, { reject: false, all: true });
  if (result.exitCode !== 0) {
    const missing = (result as { code?: string }).code === 'ENOENT';
    throw new Error(
      missing
        ? `${compiler} is not installed`
        : `building ${what} failed:\n${compiler} ${args.join(' ')}\n${result.all}`,
    );
  }
}

/** A host executable from C sources, warnings as errors. */
export async function buildHost(
  exe: string,
  sources: string[],
  includeDirs: string[],
  extraFlags: string[] = [],
): Promise<string> {
  rmSync(exe, { force: true });
  await compile(
    'gcc',
    [...warningFlags, ...extraFlags, ...includeDirs.map((d) => `-I${d}`), '-o', exe, ...sources],
    exe,
  );
  return exe;
}

/** Runs a host driver on a case stream; its stdout is the result stream. */
export async function runHost(exe: string, cases: Buffer): Promise<Buffer> {
  const result = await execa(exe, [], {
    input: cases,
    encoding: 'buffer',
    reject: false,
    maxBuffer: 1 << 28,
  });
  if (result.exitCode !== 0)
    throw new Error(
      `${exe} exited with ${result.exitCode}: ${Buffer.from(result.stderr).toString()}`,
    );
  return Buffer.from(result.stdout);
}

// ---- The Cortex-M7 twin ------------------------------------------------------------------------

export const cortexM7Board: Board = (() => {
  const board = listBoards().find((b) => b.name === 'mps2-an500');
  if (!board) throw new Error('boards/mps2-an500 is missing');
  return board;
})();

function linkerScript(board: Board): string {
  const template = Handlebars.compile(
    readFileSync(join(packageRoot, 'templates', 'linker.ld.hbs'), 'utf8'),
    { noEscape: true },
  );
  return template(linkerContext(board, `test/support/c-build.ts for board ${board.name}`));
}

/** An ELF for the twin: the sources plus the board support, with the board's flags. */
export async function buildCortexM7(
  dir: string,
  name: string,
  sources: string[],
  includeDirs: string[],
  defines: string[] = [],
): Promise<string> {
  const board = cortexM7Board;
  const script = join(dir, `${name}.ld`);
  writeFileSync(script, linkerScript(board));
  const elf = join(dir, `${name}.elf`);
  rmSync(elf, { force: true });
  const runtime = join(packageRoot, 'firmware', 'runtime');
  const boardDir = join(packageRoot, 'firmware', 'boards', board.firmware ?? board.name);
  const macros = boardMacros(board).map(([name, value]) => `-D${name}=${value}`);
  await compile(
    `${board.toolchain.prefix}gcc`,
    [
      ...board.toolchain.cflags,
      ...warningFlags,
      ...macros,
      ...defines,
      ...[runtime, ...includeDirs].map((d) => `-I${d}`),
      `-T${script}`,
      ...board.toolchain.ldflags.filter((f) => f !== '-Wl,--print-memory-usage'),
      '-o',
      elf,
      ...sources,
      join(runtime, 'tlg_startup.c'),
      join(runtime, 'tlg_print.c'),
      join(boardDir, 'startup.c'),
      join(boardDir, 'board.c'),
    ],
    elf,
  );
  return elf;
}

/**
 * Runs a driver ELF in QEMU: the cases go to cases.bin in `dir` (QEMU's working directory, where
 * semihosting opens files), the results come back from results.bin.
 */
export async function runCortexM7(
  elf: string,
  dir: string,
  cases: Buffer,
  timeoutMs = 60_000,
): Promise<Buffer> {
  const qemu = cortexM7Board.emulator.qemu;
  if (!qemu) throw new Error(`${cortexM7Board.name} has no emulator.qemu`);
  writeFileSync(join(dir, 'cases.bin'), cases);
  rmSync(join(dir, 'results.bin'), { force: true });
  const args = [
    '-M',
    qemu.machine,
    '-cpu',
    qemu.cpu,
    '-nographic',
    '-monitor',
    'none',
    '-semihosting-config',
    'enable=on,target=native',
    '-kernel',
    elf,
  ];
  const result = await execa('qemu-system-arm', args, {
    cwd: dir,
    reject: false,
    timeout: timeoutMs,
    all: true,
    input: '',
  });
  if (result.timedOut)
    throw new Error(`${elf} did not finish within ${timeoutMs} ms in QEMU:\n${result.all}`);
  if (result.exitCode !== 0) {
    const missing = (result as { code?: string }).code === 'ENOENT';
    throw new Error(
      missing
        ? 'qemu-system-arm is not installed (Debian package qemu-system-arm)'
        : `${elf} exited with ${result.exitCode} in QEMU:\n${result.all}`,
    );
  }
  return readFileSync(join(dir, 'results.bin'));
}
