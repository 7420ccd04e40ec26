// The Renode files of a generated project (renode/*.hbs, src/emit/renode.ts) and the runner
// (src/run/renode.ts).
//
// Renode is not installed here, so the generated script and suite are checked against Renode's
// own STM32H7 platform descriptions (../shared/renode-platforms, copied from Renode's tree; see
// DESIGN.md section 5): platform path, CPU, UART name and address, memory map. The runner is
// checked for what it reports without Renode (skipped, never passed) and, through stand-in
// renode-test scripts that print renode-test's output format, for how it reads a verdict.

import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listBoards, packageRoot, type Board } from '../src/boards.js';
import {
  renderRenodeFiles,
  renodeCiWorkflow,
  renodeContext,
  renodeFileNames,
  renodeRevision,
  type RenodeContext,
} from '../src/emit/renode.js';
import { readRenodeTestOutput, renodeAvailable, runRenode } from '../src/run/renode.js';

const platformsDir = join(packageRoot, '..', 'shared', 'renode-platforms');
const platformsMissing =
  `${platformsDir} is missing: Renode's platform descriptions are data beside the repository`;
const workDir = join(packageRoot, 'test', '.work', 'renode');

const model = 'pm-tiny';
const elf = '../build/stm32h747/firmware.elf';
const timeoutSeconds = 60;

const boards = listBoards();
const renodeBoards = boards.filter((b) => b.emulator.renode);
const renodePlatformPath = /^platforms\/(cpus|boards)\/[\w-]+\.repl$/;

// ---- Renode platform descriptions (.repl) ----

interface ReplEntry {
  name: string;
  /** Model, e.g. "Memory.MappedMemory"; entries that only update attributes have none. */
  type?: string;
  /** First address on sysbus. */
  address?: number;
  attributes: Map<string, string>;
}

interface Platform {
  entries: Map<string, ReplEntry>;
  /** Every file read, as Renode names it ("platforms/cpus/stm32h7.repl"). */
  files: string[];
}

/**
 * Reads a platform the way Renode merges it: `using` files first, then the file's own entries,
 * which add to or override entries of the same name. Renode paths map to files of the flat
 * data folder by their base name.
 */
function loadPlatform(platformPath: string): Platform {
  const file = join(platformsDir, basename(platformPath));
  if (!existsSync(file)) throw new Error(`${platformPath}: no such file in ${platformsDir}`);
  const text = readFileSync(file, 'utf8');
  const platform: Platform = { entries: new Map(), files: [] };
  for (const using of text.matchAll(/^using "([^"]+)"/gm)) {
    const used = loadPlatform(using[1]);
    for (const entry of used.entries.values()) mergeEntry(platform.entries, entry);
    platform.files.push(...used.files);
  }
  platform.files.push(platformPath);
  for (const entry of parseRepl(text)) mergeEntry(platform.entries, entry);
  return platform;
}

function mergeEntry(entries: Map<string, ReplEntry>, entry: ReplEntry): void {
  const known = entries.get(entry.name);
  if (!known) {
    entries.set(entry.name, { ...entry, attributes: new Map(entry.attributes) });
    return;
  }
  known.type = entry.type ?? known.type;
  known.address = entry.address ?? known.address;
  for (const [key, value] of entry.attributes) known.attributes.set(key, value);
}

/** Entries of one .repl: `name: Type @ registration` at column 0, attributes indented below. */
function parseRepl(text: string): ReplEntry[] {
  const entries: ReplEntry[] = [];
  let current: ReplEntry | undefined;
  let registration: string[] | undefined;
  let inScript = false;
  for (const line of text.split('\n')) {
    // Python scripts between ''' may hold lines that look like entries ("else:").
    if (inScript) {
      if (line.includes("'''")) inScript = false;
      continue;
    }
    if ((line.match(/'''/g) ?? []).length === 1) inScript = true;
    if (registration) {
      registration.push(line);
      if (line.includes('}')) {
        setAddress(current!, registration.join('\n'));
        registration = undefined;
      }
      continue;
    }
    const header = /^([A-Za-z_]\w*):\s*(.*)$/.exec(line);
    if (header) {
      current = { name: header[1], attributes: new Map() };
      entries.push(current);
      const at = header[2].indexOf('@');
      if (at >= 0) {
        const type = header[2].slice(0, at).trim();
        if (type) current.type = type;
        const rest = header[2].slice(at + 1);
        if (rest.includes('{') && !rest.includes('}')) registration = [rest];
        else setAddress(current, rest);
      }
      continue;
    }
    const attribute = /^\s+(\w+):\s*(.+?)\s*$/.exec(line);
    if (current && attribute) current.attributes.set(attribute[1], attribute[2]);
  }
  return entries;
}

function setAddress(entry: ReplEntry, registration: string): void {
  const address = /sysbus\s+<?\s*(0x[0-9A-Fa-f_]+)/.exec(registration);
  if (address) entry.address = replNumber(address[1]);
}

function replNumber(text: string): number {
  return Number(text.replace(/_/g, ''));
}

/** Mapped memories from `start` on, each beginning where the one before ends. */
function contiguousMemory(platform: Platform, start: number): ReplEntry[] {
  const memories = [...platform.entries.values()].filter(
    (e) => e.type === 'Memory.MappedMemory' && e.address !== undefined && e.attributes.has('size'),
  );
  const chain: ReplEntry[] = [];
  let next = start;
  for (;;) {
    const memory = memories.find((m) => m.address === next);
    if (!memory) return chain;
    chain.push(memory);
    next += replNumber(memory.attributes.get('size')!);
  }
}

// ---- The generated files ----

function rescLines(resc: string): string[] {
  return resc.split('\n').filter((line) => line.trim() !== '' && !/^\s*[#:]/.test(line));
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function renderFor(board: Board): { ctx: RenodeContext; resc: string; robot: string } {
  const ctx = renodeContext(board, model, elf, timeoutSeconds);
  return { ctx, ...renderRenodeFiles(ctx) };
}

const renodeCases = renodeBoards.map((b) => [b.name, b] as const);

describe.each(renodeCases)('Renode files of %s', (_name, board) => {
  const renode = board.emulator.renode!;
  const { ctx, resc, robot } = renderFor(board);

  it('start with what generated them and that they are not to be edited', () => {
    for (const text of [resc, robot]) {
      const [first, second] = text.split('\n');
      expect(first).toBe(
        `# Generated by tinylstm-gen 0.1.0 from model ${model} for board ${board.name}`,
      );
      expect(second).toBe('# Generated file: do not edit.');
      expect(text).not.toMatch(/\{\{|\}\}/);
    }
  });

  it("load a platform that Renode has, under the board's name for it", (test) => {
    test.skip(!existsSync(platformsDir), platformsMissing);
    const loaded = /^machine LoadPlatformDescription @(\S+)$/m.exec(resc);
    expect(loaded?.[1]).toBe(renode.platform);
    expect(renode.platform).toMatch(renodePlatformPath);
    const platform = loadPlatform(renode.platform);
    // Every file the platform pulls in is named by its place in Renode's tree.
    for (const file of platform.files) expect(file).toMatch(renodePlatformPath);
    expect(platform.files).toContain('platforms/cpus/stm32h7.repl');
  });

  it("name Renode's Cortex-M7 and set its vector table to the board's boot flash", (test) => {
    test.skip(!existsSync(platformsDir), platformsMissing);
    const cpu = loadPlatform(renode.platform).entries.get(ctx.cpu);
    expect(cpu?.type).toBe('CPU.CortexM');
    expect(cpu?.attributes.get('cpuType')).toBe(`"${board.core.cpu}"`);
    expect(board.core.cpu).toBe('cortex-m7');

    // VTOR and the ELF are set in the reset macro, so that a machine reset boots the same way.
    const macro = /^macro reset\n"""\n([\s\S]*?)\n"""\nrunMacro \$reset$/m.exec(resc);
    expect(macro).not.toBeNull();
    const vtor = new RegExp(`^\\s*${ctx.cpu} VectorTableOffset (0x[0-9A-F]+)$`, 'm');
    const vectorTable = vtor.exec(macro![1]);
    const bootFlash = board.memory.find((r) => r.kind === 'flash' && r.holds.includes('code'))!;
    expect(Number(vectorTable?.[1])).toBe(bootFlash.origin);
    expect(Number(ctx.flashBase)).toBe(bootFlash.origin);
    expect(macro![1]).toMatch(/^\s*sysbus LoadELF \$elf$/m);
  });

  it("load the project's ELF unless the caller names another", () => {
    expect(resc).toContain(`$elf ?= $ORIGIN/${elf}`);
    expect(ctx.elf).toBe(elf);
    expect(robot.split('\n')).toContain(`\${ELF}              \${CURDIR}/${elf}`);
    expect(robot).toMatch(/^ {4}Execute Command {2,}\$elf=@\$\{ELF\}$/m);
  });

  it("name the board's console UART as Renode does, at the board's address", (test) => {
    test.skip(!existsSync(platformsDir), platformsMissing);
    const uart = loadPlatform(renode.platform).entries.get(ctx.uart);
    expect(uart?.type).toMatch(/^UART\./);
    expect(uart?.address).toBe(board.uart.base);
    expect(Number(ctx.uartBase)).toBe(board.uart.base);
    expect(rescLines(resc)).toEqual(
      expect.arrayContaining([
        `showAnalyzer ${ctx.uart}`,
        `${ctx.uart} CreateFileBackend $uart_log true`,
      ]),
    );
    expect(robot).toMatch(new RegExp(`^\\$\\{UART\\}\\s{2,}sysbus\\.${ctx.uart}$`, 'm'));
  });

  it("find every memory region of the board in Renode's memory map, as large at least", (test) => {
    test.skip(!existsSync(platformsDir), platformsMissing);
    const platform = loadPlatform(renode.platform);
    for (const region of board.memory) {
      const chain = contiguousMemory(platform, region.origin);
      const covered = chain.reduce((sum, m) => sum + replNumber(m.attributes.get('size')!), 0);
      const where = `${region.name} at ${hex(region.origin)}`;
      expect(chain.length, `${where}: no Renode memory starts there`).toBeGreaterThan(0);
      const names = chain.map((m) => m.name).join(' + ');
      expect(covered, `${where}: ${names}`).toBeGreaterThanOrEqual(region.length);
    }
  });

  it('add a DWT at the core clock where the platform has nothing', (test) => {
    test.skip(!existsSync(platformsDir), platformsMissing);
    const dwt = new RegExp(
      '^machine LoadPlatformDescriptionFromString ' +
        '"dwt: Miscellaneous\\.DWT @ sysbus (0x[0-9A-F]+) \\{ frequency: (\\d+) \\}"$',
      'm',
    ).exec(resc);
    expect(Number(dwt?.[1])).toBe(0xe0001000);
    expect(Number(dwt?.[2])).toBe(board.core.clockHz);
    expect(rescLines(resc)).toContain(`${ctx.cpu} PerformanceInMips ${board.core.clockHz / 1e6}`);
    const entries = [...loadPlatform(renode.platform).entries.values()];
    expect(entries.filter((e) => e.name === 'dwt' || e.address === 0xe0001000)).toEqual([]);
  });

  it('leave the start of the emulation to the Robot suite', () => {
    expect(rescLines(resc).filter((line) => /^\s*(start|s)\s*$/.test(line))).toEqual([]);
    const start = robot.indexOf('Start Emulation');
    expect(start).toBeGreaterThan(robot.indexOf('Create Terminal Tester'));
  });

  it('run the suite the way renode-test expects, including the script', () => {
    expect(robot).toMatch(/^Suite Setup {2,}Setup$/m);
    expect(robot).toMatch(/^Suite Teardown {2,}Teardown$/m);
    expect(robot).toMatch(/^Test Setup {2,}Reset Emulation$/m);
    expect(robot).toMatch(/^Test Teardown {2,}Test Teardown$/m);
    expect(robot).toMatch(/^Resource {2,}\$\{RENODEKEYWORDS\}$/m);
    expect(ctx.rescFile).toBe(renodeFileNames(model).resc);
    const include = robot.indexOf(`include @\${CURDIR}/${ctx.rescFile}`);
    expect(include).toBeGreaterThan(robot.indexOf('$elf=@${ELF}'));
    expect(robot).toMatch(/^ {4}Create Terminal Tester {2,}\$\{UART\} {2,}timeout=\$\{TIMEOUT\}$/m);
    expect(robot).toMatch(new RegExp(`^\\$\\{TIMEOUT\\}\\s{2,}${timeoutSeconds}$`, 'm'));
    expect(robot).not.toMatch(/\t/);
  });

  it('wait for TLG BEGIN and TLG END PASS, and fail at once on TLG END FAIL or TLG FAULT', () => {
    const at = (line: RegExp) => {
      const match = line.exec(robot);
      expect(match, String(line)).not.toBeNull();
      return match!.index;
    };
    const failOnEnd = at(/^ {4}Register Failing Uart String {2,}TLG END FAIL$/m);
    const failOnFault = at(/^ {4}Register Failing Uart String {2,}TLG FAULT$/m);
    const start = at(/^ {4}Start Emulation$/m);
    const begin = at(/^ {8}Wait For Line On Uart {2,}TLG BEGIN$/m);
    const pass = at(/^ {8}Wait For Line On Uart {2,}TLG END PASS$/m);
    expect(Math.max(failOnEnd, failOnFault)).toBeLessThan(start);
    expect(start).toBeLessThan(begin);
    expect(begin).toBeLessThan(pass);
    // The failing-string error of Renode's UartKeywords reads "Test failing entry has been found".
    const except = /^ {4}EXCEPT {2,}\*failing entry\* {2,}type=glob {2,}AS {2,}\$\{error\}$/m;
    expect(robot).toMatch(except);
  });
});

describe('renodeContext', () => {
  it('refuses a board that Renode does not model', () => {
    const twin = boards.find((b) => !b.emulator.renode)!;
    const refused = () => renodeContext(twin, model, elf, timeoutSeconds);
    expect(refused).toThrow(/has no Renode description/);
  });

  it('keeps model names to characters that Renode and Robot take as they are', () => {
    const ctx = renodeContext(renodeBoards[0], 'my model "v2"', elf, timeoutSeconds);
    expect(ctx.model).toBe('my_model__v2_');
    expect(ctx.rescFile).toBe('my_model__v2_.resc');
  });

  it('refuses an absolute ELF path', () => {
    expect(() => renodeContext(renodeBoards[0], model, '/tmp/firmware.elf', timeoutSeconds)).toThrow(/relative/);
  });
});

describe('renodeCiWorkflow', () => {
  const board = renodeBoards.find((b) => b.name === 'stm32h747i-disco')!;
  const ctx = renodeContext(board, model, elf, timeoutSeconds);
  const yaml = renodeCiWorkflow(board, ctx, 'firmware');

  it('builds with the Arm toolchain and runs the suite on the Renode of the platforms', (test) => {
    expect(yaml).toContain('uses: actions/checkout@v4');
    expect(yaml).toContain(board.toolchain.debianPackages.join(' '));
    expect(yaml).toMatch(/run: make\n\s+working-directory: "firmware"/);
    expect(yaml).toContain('uses: antmicro/renode-test-action@v5');
    expect(yaml).toContain('tests-to-run: "firmware/renode/pm-tiny.robot"');
    expect(yaml).toContain('if: always()');
    expect(yaml).toContain('firmware/build/stm32h747/renode-uart.log');
    expect(yaml).not.toMatch(/\t/);
    const indents = yaml.split('\n').map((line) => line.length - line.trimStart().length);
    expect(indents.filter((n) => n % 2 !== 0)).toEqual([]);

    const revision = /renode-revision: "([0-9a-f]{40})"/.exec(yaml)?.[1];
    expect(revision).toBe(renodeRevision(board.emulator.renode!.version));
    test.skip(!existsSync(platformsDir), platformsMissing);
    expect(readFileSync(join(platformsDir, 'README.md'), 'utf8')).toContain(`commit ${revision}`);
  });

  it('turns a release number into its tag', () => {
    expect(renodeRevision('1.16.1')).toBe('v1.16.1');
    expect(() => renodeRevision('the development branch')).toThrow(/revision/);
  });
});

// ---- The runner ----

const testName = 'Pm-Tiny.Firmware Should Pass Its Golden Check';
const passingOutput = [
  'Preparing suites',
  'Started Renode instance on port 43211; pid 4242',
  'Starting suites',
  'Running suite on Renode pid 4242 using port 43211: /p/pm-tiny.robot',
  `+++++ Starting test '${testName}'`,
  `+++++ Finished test '${testName}' in 3.21 seconds with status \x1b[92mOK\x1b[0m`,
  'Suite /p/pm-tiny.robot finished successfully in 5.02 seconds.',
  'Cleaning up suites',
  'Closing Renode pid 4242',
  'Aggregating all robot results',
  'Output:  /p/renode-results/robot_output.xml',
  'Tests finished successfully :)',
].join('\n');
const failingOutput = [
  'Running suite on Renode pid 4242 using port 43211: /p/pm-tiny.robot',
  `+++++ Starting test '${testName}'`,
  `+++++ Finished test '${testName}' in 2.00 seconds with status \x1b[91mfailed\x1b[0m`,
  '      ╔═',
  '      ║ The firmware reported a failure. Terminal tester failed!',
  '      ║ ',
  '      ║ Test failing entry has been found on UART:',
  '      ║ TLG END FAIL 2',
  '      ╚═',
  'Suite /p/pm-tiny.robot failed in 2.50 seconds.',
  'Some tests failed :( See the list of failed tests below and logs for details!',
  'Failed robot critical tests:',
  `\t1. ${testName}`,
  '------',
].join('\n');

describe('readRenodeTestOutput', () => {
  it('passes only a run that exits 0, says so and finished a test OK', () => {
    expect(readRenodeTestOutput(passingOutput, 0).status).toBe('passed');
    expect(readRenodeTestOutput(passingOutput, 1).status).toBe('failed');
    const nothingRan = [
      'Starting suites',
      'No tests executed for suite /p/pm-tiny.robot',
      'Tests finished successfully :)',
    ].join('\n');
    expect(readRenodeTestOutput(nothingRan, 0)).toEqual({
      status: 'failed',
      reason: expect.stringMatching(/ran no test/),
    });
  });

  it('names the failed test and the firmware line that failed it', () => {
    const { status, reason } = readRenodeTestOutput(failingOutput, 1);
    expect(status).toBe('failed');
    expect(reason).toBe(`${testName} failed: the firmware printed "TLG END FAIL 2"`);
  });

  it('reports a Renode crash and an unexpected exit', () => {
    const crashed = `${failingOutput}\nRenode crashed during testing and caused a failure`;
    expect(readRenodeTestOutput(crashed, 2).reason).toMatch(/crashed/);
    expect(readRenodeTestOutput('ModuleNotFoundError: No module named robot', 1).reason).toBe(
      'renode-test exited with code 1: ModuleNotFoundError: No module named robot',
    );
  });
});

describe('runRenode', () => {
  const robotFile = 'pm-tiny.robot';

  /** A folder for PATH holding stand-in programs: name -> shell script body. */
  function binDir(name: string, programs: Record<string, string>): string {
    const dir = join(workDir, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [program, body] of Object.entries(programs)) {
      writeFileSync(join(dir, program), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, program), 0o755);
    }
    return dir;
  }

  /** A renode-test that records its arguments and folder, prints `output` and exits `code`. */
  function fakeRenodeTest(name: string, output: string, code: number): string {
    const dir = join(workDir, name);
    return binDir(name, {
      'renode-test': [
        `pwd > "${dir}/cwd.txt"`,
        `echo "$@" > "${dir}/args.txt"`,
        `cat <<'EOF'\n${output}\nEOF`,
        `exit ${code}`,
      ].join('\n'),
    });
  }

  const run = (dir: string, timeoutSeconds = 10) => {
    const env = { PATH: `${dir}:/usr/bin:/bin` };
    return runRenode({ projectDir: workDir, robotFile, timeoutSeconds, env });
  };

  it("reports 'skipped', not 'passed', when renode is not on PATH", async () => {
    const env = { PATH: binDir('empty', {}) };
    expect(renodeAvailable(env)).toBe(false);
    const result = await runRenode({ projectDir: workDir, robotFile, timeoutSeconds: 10, env });
    expect(result).toEqual({ status: 'skipped', reason: 'renode is not installed', output: '' });
  });

  it("reports 'skipped' when renode is there but its test runner is not", async () => {
    const env = { PATH: binDir('renode-only', { renode: 'exit 0' }) };
    expect(renodeAvailable(env)).toBe(true);
    const result = await runRenode({ projectDir: workDir, robotFile, timeoutSeconds: 10, env });
    expect(result.status).toBe('skipped');
    expect(result.reason).toMatch(/^renode-test is not installed \(renode is, at .*\/renode\)/);
  });

  it('runs renode-test on the suite in the project folder, with results there', async () => {
    const dir = fakeRenodeTest('passing', passingOutput, 0);
    const result = await run(dir);
    expect(result.status).toBe('passed');
    expect(result.output).toContain('Tests finished successfully');
    expect(readFileSync(join(dir, 'cwd.txt'), 'utf8').trim()).toBe(workDir);
    const args = readFileSync(join(dir, 'args.txt'), 'utf8').trim();
    expect(args).toBe(`${robotFile} -r ${join(workDir, 'renode-results')}`);
  });

  it("reports 'failed' with the firmware's line when the suite fails", async () => {
    const result = await run(fakeRenodeTest('failing', failingOutput, 1));
    expect(result.status).toBe('failed');
    expect(result.reason).toContain('TLG END FAIL 2');
  });

  it("stops renode-test at the time limit and reports 'failed'", async () => {
    const dir = binDir('hanging', { 'renode-test': 'echo Preparing suites\nsleep 30' });
    const started = Date.now();
    const result = await run(dir, 1);
    const reason = 'renode-test did not finish within 1 s and was stopped';
    expect(result).toMatchObject({ status: 'failed', reason });
    expect(result.output).toContain('Preparing suites');
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});
