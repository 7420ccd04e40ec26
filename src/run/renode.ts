// Runs a generated project's Robot suite with renode-test and reports what renode-test says.
//
// The firmware checks its outputs itself, so the verdict is renode-test's: a run passes only
// when renode-test exits 0, prints its success summary and at least one test finished OK with
// none failed. Where Renode is not installed the run is skipped, never passed.
//
// POSIX hosts only: the time limit stops renode-test's whole process group, which Windows lacks.

import { resolve } from 'node:path';
import { execa } from 'execa';
import { findOnPath } from './tools.js';

export type RenodeStatus = 'passed' | 'failed' | 'skipped';

export interface RenodeRunResult {
  status: RenodeStatus;
  /** One line: why it passed, failed or was skipped. */
  reason: string;
  /** renode-test's stdout and stderr, interleaved. */
  output: string;
}

export interface RenodeRunOptions {
  /** Root of the generated project: the suite's working directory. */
  projectDir: string;
  /** The .robot file, relative to projectDir or absolute. */
  robotFile: string;
  /** Wall-clock limit of the whole renode-test run, Renode's start-up included. */
  timeoutSeconds: number;
  /** Where renode-test writes robot_output.xml, log.html and report.html. */
  resultsDir?: string;
  /** Environment of the lookup and of renode-test; default: this process's. */
  env?: NodeJS.ProcessEnv;
}

/** Grace period between SIGTERM and SIGKILL when the time limit is reached. */
const killGraceMs = 5_000;

/** Whether Renode (`renode-test` or `renode`) is on PATH. */
export function renodeAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return findOnPath('renode-test', env) !== undefined || findOnPath('renode', env) !== undefined;
}

/** Runs `renode-test <robotFile>` in projectDir and reads its verdict. */
export async function runRenode(options: RenodeRunOptions): Promise<RenodeRunResult> {
  const env = options.env ?? process.env;
  const renodeTest = findOnPath('renode-test', env);
  if (!renodeTest) {
    const renode = findOnPath('renode', env);
    const reason = renode
      ? `renode-test is not installed (renode is, at ${renode}); ` +
        "the Robot suite needs Renode's test runner"
      : 'renode is not installed';
    return { status: 'skipped', reason, output: '' };
  }

  // Renode's wrapper passes its own -r (inside Renode's install tree, often not writable)
  // before the arguments given here; the last -r wins.
  const projectDir = resolve(options.projectDir);
  const resultsDir = resolve(projectDir, options.resultsDir ?? 'renode-results');
  const subprocess = execa(renodeTest, [options.robotFile, '-r', resultsDir], {
    cwd: projectDir,
    env,
    extendEnv: false,
    all: true,
    reject: false,
    stdin: 'ignore',
    // renode-test starts Python, which starts Renode: a process group of its own lets the time
    // limit end all three.
    detached: true,
  });

  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(subprocess.pid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(subprocess.pid, 'SIGKILL'), killGraceMs);
  }, options.timeoutSeconds * 1000);
  const result = await subprocess;
  clearTimeout(timer);
  clearTimeout(killTimer);

  const output = result.all ?? '';
  if (timedOut) {
    // renode-test may have gone on SIGTERM and left Renode behind in the group.
    killGroup(subprocess.pid, 'SIGKILL');
    const reason = `renode-test did not finish within ${options.timeoutSeconds} s and was stopped`;
    return { status: 'failed', reason, output };
  }
  if (result.exitCode === undefined) {
    const why = result.signal
      ? `was ended by ${result.signal}`
      : `could not be started (${result.shortMessage ?? result.code})`;
    return { status: 'failed', reason: `renode-test ${why}`, output };
  }
  return { ...readRenodeTestOutput(output, result.exitCode), output };
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group has already exited.
  }
}

export interface RenodeTestVerdict {
  status: 'passed' | 'failed';
  reason: string;
}

const finishedTest = /^\+\+\+\+\+ Finished test '(.*)' in [\d.]+ seconds with status (.+)$/gm;

/**
 * renode-test's verdict from its console output and exit code. The formats are Renode's:
 * tests/robot_output_formatter.py prints one "+++++ Finished test" line per test, with the
 * failure message boxed under a failed one; tests/tests_engine.py prints the summary and exits
 * 0, 1 when tests failed, or 2 when Renode crashed.
 */
export function readRenodeTestOutput(text: string, exitCode: number): RenodeTestVerdict {
  const output = stripAnsi(text);
  const finished = [...output.matchAll(finishedTest)].map((m) => ({
    test: m[1],
    status: m[2].trim(),
  }));
  const passed = finished.filter((t) => t.status === 'OK');
  const failed = finished.filter(
    (t) => t.status.startsWith('failed') && t.status !== 'failed (will be retried)',
  );
  const succeeded = /^Tests finished successfully/m.test(output);

  if (exitCode === 0 && succeeded && passed.length > 0 && failed.length === 0) {
    return { status: 'passed', reason: `${names(passed)} passed in Renode` };
  }
  if (/Renode crashed during testing/.test(output)) {
    return { status: 'failed', reason: 'Renode crashed during the test' };
  }
  if (failed.length > 0) {
    const messages = failureMessages(output);
    const firmware = messages
      .flatMap((message) => message.split('\n'))
      .map((line) => line.trim())
      .find((line) => /^TLG (FAULT|END FAIL)\b/.test(line));
    const why = firmware ? `the firmware printed "${firmware}"` : firstLine(messages[0]);
    return { status: 'failed', reason: `${names(failed)} failed${why ? `: ${why}` : ''}` };
  }
  if (exitCode === 0) {
    const reason = 'renode-test ran no test to completion (all skipped, excluded or none found)';
    return { status: 'failed', reason };
  }
  const lastLine = firstLine(output.split('\n').reverse().join('\n'));
  return {
    status: 'failed',
    reason: `renode-test exited with code ${exitCode}${lastLine ? `: ${lastLine}` : ''}`,
  };
}

function names(tests: { test: string }[]): string {
  return tests.map((t) => t.test).join(', ');
}

/** The boxed messages printed under failed tests (lines "      ║ text" between ╔ and ╚). */
function failureMessages(output: string): string[] {
  const messages: string[] = [];
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    const trimmed = line.trimStart();
    if (trimmed.startsWith('╔')) {
      current = [];
    } else if (trimmed.startsWith('╚') && current) {
      messages.push(current.join('\n'));
      current = undefined;
    } else if (current && trimmed.startsWith('║')) {
      current.push(trimmed.slice(1).replace(/^ /, ''));
    }
  }
  return messages;
}

function firstLine(text: string | undefined): string | undefined {
  return text?.split('\n').find((line) => line.trim() !== '')?.trim();
}

function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}
