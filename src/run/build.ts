// Building a generated project with its Makefile.

import { cpus } from 'node:os';
import { execa } from 'execa';
import type { Board } from '../boards.js';
import { diagnostics } from '../diagnostics.js';
import { tail } from './protocol.js';
import { requireTool } from './tools.js';

export interface BuildOptions {
  projectDir: string;
  /** A Makefile target: the board's own (default), `twin` or `host`. */
  target?: string;
  board: Board;
  cmsisNnPath?: string;
}

export async function buildProject(o: BuildOptions): Promise<void> {
  requireTool('make', 'make');
  if (o.target !== 'host') requireTool(`${o.board.toolchain.prefix}gcc`, o.board.toolchain.debianPackages.join(' '));
  else requireTool('gcc', 'gcc');
  const args = ['-j', String(Math.max(1, cpus().length)), ...(o.target ? [o.target] : [])];
  const env = o.cmsisNnPath ? { CMSIS_NN_PATH: o.cmsisNnPath } : {};
  const r = await execa('make', args, { cwd: o.projectDir, reject: false, all: true, env, timeout: 600_000 });
  if (r.exitCode !== 0) throw diagnostics.buildFailed(o.projectDir, tail(r.all ?? '', 40));
}
