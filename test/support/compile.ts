// Shortcuts for tests: compile with the portable kernels and run the golden interpreter.

import { compileModel, compileModelBytes, type CompileOptions } from '../../src/pipeline.js';
export { runExternal } from '../../src/ir/io.js';

export function compileBytes(bytes: Uint8Array, file: string, options: Partial<CompileOptions> = {}) {
  return compileModelBytes(bytes, file, { kernels: 'portable', ...options });
}

export function compileFile(file: string, options: Partial<CompileOptions> = {}) {
  return compileModel(file, { kernels: 'portable', ...options });
}
