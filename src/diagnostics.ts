// Every user-facing error and warning of tinylstm-gen, in one place.
//
// A diagnostic has a stable code (TLG-xxx), a one-line message built from the actual values,
// the location it is about (file, node, tensor) and, where there is one, what to do about it.
// Internal invariants are not diagnostics: they throw InternalError through `invariant()`.

export const ExitCode = {
  ok: 0,
  /** Bad input: unreadable file, unsupported model, bad option. */
  input: 1,
  /** The model does not fit the memory budget. */
  budget: 2,
  /** The firmware ran but its outputs differ from the golden interpreter's. */
  mismatch: 3,
  /** A tool (compiler, emulator) is missing, failed, hung or the firmware faulted. */
  tool: 4,
  /** A bug in tinylstm-gen itself. */
  internal: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface DiagnosticLocation {
  file?: string;
  node?: string;
  opType?: string;
  tensor?: string;
}

export class TlgError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly location: DiagnosticLocation;
  readonly hint?: string;
  /** Extra lines printed under the one-line message (reports, emulator output). */
  readonly details?: string;

  constructor(init: {
    code: string;
    message: string;
    exitCode?: ExitCodeValue;
    location?: DiagnosticLocation;
    hint?: string;
    details?: string;
  }) {
    super(init.message);
    this.name = 'TlgError';
    this.code = init.code;
    this.exitCode = init.exitCode ?? ExitCode.input;
    this.location = init.location ?? {};
    this.hint = init.hint;
    this.details = init.details;
  }

  /** The one-line form: `error TLG-104 model.onnx: node "x" (Foo): ... Fix: ...`. */
  format(): string {
    const where = formatLocation(this.location);
    const hint = this.hint ? `${/[.!?)]$/.test(this.message) ? '' : '.'} ${this.hint}` : '';
    return `error ${this.code}${where ? ` ${where}:` : ':'} ${this.message}${hint}`;
  }
}

export class InternalError extends Error {
  constructor(message: string) {
    super(`internal error (a bug in tinylstm-gen, please report it): ${message}`);
    this.name = 'InternalError';
  }
}

export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InternalError(typeof message === 'string' ? message : message());
}

function formatLocation(loc: DiagnosticLocation): string {
  const parts: string[] = [];
  if (loc.file) parts.push(loc.file);
  if (loc.node) parts.push(`node "${loc.node}"${loc.opType ? ` (${loc.opType})` : ''}`);
  else if (loc.opType) parts.push(loc.opType);
  if (loc.tensor) parts.push(`tensor "${loc.tensor}"`);
  return parts.join(': ');
}

export interface Warning {
  code: string;
  message: string;
  location?: DiagnosticLocation;
}

export function formatWarning(w: Warning): string {
  const where = w.location ? formatLocation(w.location) : '';
  return `warning ${w.code}${where ? ` ${where}:` : ':'} ${w.message}`;
}

// ---------------------------------------------------------------------------------------------
// The registry. Codes are grouped by phase: 1xx load, 2xx passes and quantization, 3xx plan,
// 4xx emit, 5xx run and validate, 6xx options.
// ---------------------------------------------------------------------------------------------

const err = (
  code: string,
  message: string,
  location: DiagnosticLocation = {},
  hint?: string,
  exitCode: ExitCodeValue = ExitCode.input,
  details?: string,
) => new TlgError({ code, message, location, hint, exitCode, details });

export const diagnostics = {
  // --- 1xx: loading ---------------------------------------------------------------------------
  fileNotFound: (file: string, what = 'file') =>
    err('TLG-101', `${what} not found`, { file }, 'Check the path.'),
  notOnnx: (file: string, reason: string) =>
    err(
      'TLG-102',
      `not a readable ONNX model (${reason})`,
      { file },
      'Pass a .onnx file written by an ONNX exporter; a truncated or corrupted file gives this error.',
    ),
  irVersion: (file: string, version: number, min: number, max: number) =>
    err(
      'TLG-103',
      `ONNX IR version ${version} is not supported (supported: ${min} to ${max})`,
      { file },
      'Re-export the model with a current exporter.',
    ),
  opsetVersion: (file: string, domain: string, version: number, min: number, max: number) =>
    err(
      'TLG-104',
      `opset ${domain || 'ai.onnx'} version ${version} is not supported (supported: ${min} to ${max})`,
      { file },
      `Export with opset_version between ${min} and ${max}.`,
    ),
  externalData: (file: string, tensor: string) =>
    err(
      'TLG-105',
      'initializer stores its data outside the model file (external data), which is not supported',
      { file, tensor },
      'Save the model with all tensors inside it (onnx.save(model, path, save_as_external_data=False)).',
    ),
  unsupportedOp: (file: string, node: string, opType: string, domain: string, supported: string[]) =>
    err(
      'TLG-106',
      `operator ${domain && domain !== 'ai.onnx' ? `${domain}.` : ''}${opType} is not supported. Supported operators: ${supported.join(', ')}`,
      { file, node, opType },
      'Replace the operator in the model, or fold it before export.',
    ),
  dynamicDim: (file: string, tensor: string, dim: string, axis: number) =>
    err(
      'TLG-107',
      `dimension ${axis} is dynamic ("${dim}") with no bound`,
      { file, tensor },
      dim.toLowerCase().includes('seq') || axis === 1 || axis === 0
        ? 'Give the sequence length with --seq-len N.'
        : 'Export the model with static shapes, or give the sequence length with --seq-len N.',
    ),
  shapeMismatch: (file: string, node: string, opType: string, what: string) =>
    err('TLG-108', `shape mismatch: ${what}`, { file, node, opType }, 'Check the exported model; its shapes do not agree.'),
  badTensor: (file: string, tensor: string, what: string) =>
    err('TLG-109', what, { file, tensor }, 'The model file is damaged or was written by an unsupported exporter.'),
  badAttribute: (file: string, node: string, opType: string, what: string) =>
    err('TLG-110', what, { file, node, opType }),
  badGraph: (file: string, what: string, location: DiagnosticLocation = {}) =>
    err('TLG-111', what, { file, ...location }, 'The model file is damaged or was written by an unsupported exporter.'),
  unsupportedDtype: (file: string, tensor: string, dtype: string) =>
    err('TLG-112', `element type ${dtype} is not supported here`, { file, tensor }),

  // --- 2xx: passes and quantization -----------------------------------------------------------
  notQuantized: (file: string) =>
    err(
      'TLG-201',
      'the model is not quantized: it has no QuantizeLinear/DequantizeLinear nodes',
      { file },
      'Export it with quantization-aware training (Q/DQ pairs), or pass --calibration X.npy to quantize it from representative inputs.',
    ),
  missingQuantParams: (file: string, tensors: string[]) =>
    err(
      'TLG-202',
      `${tensors.length} tensor${tensors.length === 1 ? ' has' : 's have'} no quantization parameters: ${tensors
        .slice(0, 8)
        .map((t) => `"${t}"`)
        .join(', ')}${tensors.length > 8 ? `, and ${tensors.length - 8} more` : ''}`,
      { file, tensor: tensors[0] },
      'Pass --calibration X.npy (representative float inputs, shape [N, ...input shape]) so that their ranges can be measured, or add Q/DQ pairs around them.',
    ),
  notIntegerizable: (file: string, node: string, opType: string, why: string) =>
    err(
      'TLG-203',
      `cannot be made integer: ${why}`,
      { file, node, opType },
      'tinylstm-gen never falls back to float; quantize the operands of this node (Q/DQ pairs) or remove the node.',
    ),
  unsupportedAttribute: (file: string, node: string, opType: string, what: string) =>
    err('TLG-204', `unsupported attribute: ${what}`, { file, node, opType }),
  badQuantParams: (file: string, tensor: string, what: string) =>
    err('TLG-205', `invalid quantization parameters: ${what}`, { file, tensor }),
  calibrationShape: (file: string, expected: number[], got: number[]) =>
    err(
      'TLG-206',
      `calibration data has shape [${got.join(', ')}], expected [N, ${expected.join(', ')}] or [${expected.join(', ')}]`,
      { file },
      'Give float32 .npy data whose trailing dimensions are the model input shape.',
    ),
  inputShape: (file: string, expected: number[], got: number[]) =>
    err(
      'TLG-207',
      `input data has shape [${got.join(', ')}], expected [N, ${expected.join(', ')}] or [${expected.join(', ')}]`,
      { file },
      'Give a float .npy array whose trailing dimensions are the model input shape.',
    ),
  badNpy: (file: string, reason: string) =>
    err('TLG-208', `not a readable .npy file (${reason})`, { file }, 'Write it with numpy.save.'),
  calibrationFailed: (file: string, reason: string) =>
    err('TLG-209', `calibration run failed: ${reason}`, { file }),

  // --- 3xx: plan ------------------------------------------------------------------------------
  overBudget: (what: string, details: string) =>
    err('TLG-301', what, {}, undefined, ExitCode.budget, details),
  unknownBoard: (name: string, known: string[]) =>
    err('TLG-302', `unknown board "${name}" (known: ${known.join(', ')})`, {}, 'Run `tinylstm-gen boards` to list them.'),
  badBoard: (file: string, issues: string) =>
    err('TLG-303', `invalid board description: ${issues}`, { file }),
  unknownPlacement: (name: string, known: string[]) =>
    err('TLG-304', `unknown placement algorithm "${name}" (known: ${known.join(', ')})`),

  // --- 4xx: emit ------------------------------------------------------------------------------
  outputNotWritable: (dir: string, reason: string) =>
    err('TLG-401', `cannot write the output folder (${reason})`, { file: dir }),
  cmsisNnMissing: (why: string) =>
    err(
      'TLG-402',
      `CMSIS-NN not found: ${why}`,
      {},
      'Set CMSIS_NN_PATH (or --cmsis-nn PATH) to a checkout of github.com/ARM-software/CMSIS-NN, or use --kernels portable.',
    ),
  notLowerable: (node: string, opType: string, kernels: string, why: string) =>
    err('TLG-403', `the ${kernels} kernels cannot run this op: ${why}`, { node, opType }),

  // --- 5xx: run and validate ------------------------------------------------------------------
  toolMissing: (tool: string, debianPackage: string) =>
    err(
      'TLG-501',
      `${tool} not found on PATH`,
      {},
      `Install it (Debian: apt-get install ${debianPackage}).`,
      ExitCode.tool,
    ),
  buildFailed: (dir: string, output: string) =>
    err('TLG-502', 'the firmware build failed', { file: dir }, undefined, ExitCode.tool, output),
  emulatorTimeout: (emulator: string, seconds: number, lastOutput: string) =>
    err(
      'TLG-503',
      `the firmware did not finish within ${seconds} s in ${emulator} (hang)`,
      {},
      'Raise --timeout if the model is large; otherwise the firmware is stuck (see its last output below).',
      ExitCode.tool,
      lastOutput,
    ),
  firmwareFault: (emulator: string, what: string, lastOutput: string) =>
    err('TLG-504', `the firmware stopped with a fault in ${emulator}: ${what}`, {}, undefined, ExitCode.tool, lastOutput),
  emulatorFailed: (emulator: string, what: string, lastOutput: string) =>
    err('TLG-505', `${emulator} failed: ${what}`, {}, undefined, ExitCode.tool, lastOutput),
  protocolError: (what: string, lastOutput: string) =>
    err('TLG-506', `unexpected firmware output: ${what}`, {}, undefined, ExitCode.tool, lastOutput),
  mismatch: (what: string, details: string) => err('TLG-507', what, {}, undefined, ExitCode.mismatch, details),

  // --- 6xx: options ---------------------------------------------------------------------------
  badOption: (option: string, value: string, expected: string) =>
    err('TLG-601', `invalid ${option} "${value}": expected ${expected}`),
} as const;

// ---------------------------------------------------------------------------------------------
// Warnings
// ---------------------------------------------------------------------------------------------

/** 5.9 million, 42 thousand, 812. */
function approximately(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} million`;
  if (n >= 1e4) return `${Math.round(n / 1e3)} thousand`;
  return `${Math.round(n)}`;
}

export const warnings = {
  calibrationIgnored: (file: string): Warning => ({
    code: 'TLG-W01',
    message: 'calibration data given but not needed: every tensor has quantization parameters',
    location: { file },
  }),
  defaultCellScale: (node: string, power: number): Warning => ({
    code: 'TLG-W02',
    message: `no calibration data: LSTM cell state uses the default scale 2^${power} (|c| < ${2 ** (power + 15)})`,
    location: { node },
  }),
  notRolled: (why: string): Warning => ({
    code: 'TLG-W03',
    message: `the unrolled time loop was not recognised (${why}); the firmware runs the unrolled graph`,
  }),
  spilled: (region: string, to: string, bytes: number): Warning => ({
    code: 'TLG-W04',
    message: `${region} is full: ${bytes} bytes placed in ${to}`,
  }),
  lstmWeightsPerGate: (node: string, tensors: string[]): Warning => ({
    code: 'TLG-W06',
    message: `per-row weight scales of ${tensors.map((t) => `"${t}"`).join(', ')} re-quantized to one scale per gate, as CMSIS-NN's int8 LSTM takes them`,
    location: { node },
  }),
  renodeSkipped: (why: string): Warning => ({
    code: 'TLG-W05',
    message: `Renode run skipped: ${why}`,
  }),
  compactWeights: (fastOver: string, compactFlash: string, cost: { macs: number; instructions: number }): Warning => ({
    code: 'TLG-W07',
    message:
      `weights kept int8 (--weights-layout compact) to fit the budget: with int16 weights (fast) the plan is over, ${fastOver}; ` +
      `with int8 it takes ${compactFlash} of flash. Cost: the portable LSTM steps and fully connected layers sign-extend ` +
      `their weights as they read them, about ${approximately(cost.instructions)} more instructions per inference over ` +
      `${approximately(cost.macs)} multiply-accumulates (--weights-layout fast refuses the model instead)`,
  }),
} as const;
