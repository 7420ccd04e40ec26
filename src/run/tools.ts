// The external tools the runner needs, found on PATH, with the Debian package that provides
// each when it is missing.

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { diagnostics } from '../diagnostics.js';

/** The first executable file named `name` in the directories of env.PATH. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The path of `tool`, or a diagnostic naming the Debian package that provides it. */
export function requireTool(tool: string, debianPackage: string): string {
  const path = findOnPath(tool);
  if (!path) throw diagnostics.toolMissing(tool, debianPackage);
  return path;
}
