// The firmware's console lines (app/main.c prints them; templates/main.c.hbs documents them).

export interface FirmwareReport {
  begin?: { model: string; board: string; kernels: string; inputs: number };
  /** outputs[input][output] = the raw bytes. */
  outputs: Map<number, Map<number, Uint8Array>>;
  costs: Map<number, { count: number; unit: string }>;
  checks: Map<number, { pass: boolean; detail?: string }>;
  end?: { pass: boolean; count: number };
  fault?: string;
}

export function parseFirmwareOutput(text: string): FirmwareReport {
  const report: FirmwareReport = { outputs: new Map(), costs: new Map(), checks: new Map() };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const at = line.indexOf('TLG ');
    if (at < 0) continue;
    const [, kind, ...rest] = line.slice(at).split(/\s+/);
    switch (kind) {
      case 'BEGIN': {
        const fields = Object.fromEntries(rest.map((kv) => kv.split('=') as [string, string]));
        report.begin = { model: fields.model, board: fields.board, kernels: fields.kernels, inputs: Number(fields.inputs) };
        break;
      }
      case 'OUT': {
        const [input, output, hex = ''] = rest;
        const bytes = Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
        const map = report.outputs.get(Number(input)) ?? new Map<number, Uint8Array>();
        map.set(Number(output), bytes);
        report.outputs.set(Number(input), map);
        break;
      }
      case 'COST':
        report.costs.set(Number(rest[0]), { count: Number(rest[1]), unit: rest[2] });
        break;
      case 'CHECK':
        report.checks.set(Number(rest[0]), { pass: rest[1] === 'PASS', detail: rest.slice(2).join(' ') || undefined });
        break;
      case 'END':
        report.end = { pass: rest[0] === 'PASS', count: Number(rest[1]) };
        break;
      case 'FAULT':
        report.fault = rest.join(' ');
        break;
    }
  }
  return report;
}

/** The last lines of an output, for error messages. */
export function tail(text: string, lines = 20): string {
  const all = text.trimEnd().split(/\r?\n/);
  return all.slice(-lines).join('\n');
}
