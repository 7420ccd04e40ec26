// Runs the built command line (dist/, which `npm test` builds first) as a user would.

import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');
const cli = join(repoRoot, 'dist', 'src', 'cli.js');

export async function runCli(args: string[], env: Record<string, string | undefined> = {}) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build (npm test does)`);
  const r = await execa('node', [cli, ...args], { reject: false, env: { CMSIS_NN_PATH: undefined, ...env }, extendEnv: true, timeout: 600_000 });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}
