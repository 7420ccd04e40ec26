// Running a firmware in QEMU (the emulation twin): console on stdio, exit code through
// semihosting, -icount shift=0 so that the cost counter advances with executed instructions and
// two runs count the same.

import { execa } from 'execa';
import type { Board } from '../boards.js';
import { diagnostics } from '../diagnostics.js';
import { parseFirmwareOutput, tail, type FirmwareReport } from './protocol.js';
import { requireTool } from './tools.js';

/** The exit code of firmware/runtime/tlg_startup.c's fault handler under semihosting. */
const FAULT_EXIT_CODE = 3;

export interface EmulatorRun {
  emulator: string;
  output: string;
  exitCode: number;
  report: FirmwareReport;
}

export async function runQemu(elf: string, board: Board, timeoutSeconds: number): Promise<EmulatorRun> {
  const qemu = board.emulator.qemu;
  if (!qemu) throw new Error(`board ${board.name} has no QEMU machine`);
  const binary = requireTool('qemu-system-arm', 'qemu-system-arm');
  const args = [
    '-M', qemu.machine, '-cpu', qemu.cpu, '-nographic', '-monitor', 'none', '-serial', 'stdio',
    '-semihosting-config', 'enable=on,target=native', '-icount', 'shift=0', '-kernel', elf,
  ];
  const r = await execa(binary, args, { reject: false, all: true, timeout: timeoutSeconds * 1000, killSignal: 'SIGKILL', stdin: 'ignore' });
  const output = r.all ?? '';
  const name = `QEMU ${qemu.machine}`;
  if (r.timedOut) throw diagnostics.emulatorTimeout(name, timeoutSeconds, tail(output) || '(no output)');
  const report = parseFirmwareOutput(output);
  if (report.fault) throw diagnostics.firmwareFault(name, report.fault, tail(output));
  // The board support's fault handler exits with 3, also when it faulted before the console.
  if (r.exitCode === FAULT_EXIT_CODE && !report.end) {
    throw diagnostics.firmwareFault(name, `the fault handler ended the program (exit code ${FAULT_EXIT_CODE}) before it printed`, tail(output) || '(no output)');
  }
  if (r.exitCode === undefined) throw diagnostics.emulatorFailed(name, `ended by ${r.signal ?? 'an error'}`, tail(output));
  if (!report.end) {
    throw diagnostics.protocolError(`the firmware stopped (exit code ${r.exitCode}) without its TLG END line`, tail(output) || '(no output)');
  }
  return { emulator: name, output, exitCode: r.exitCode, report };
}
