// What a generated project derives from a board description: the macros of its board header
// (firmware/boards/README.md lists them) and the linker script's regions, cut to the budget so
// that an overflow fails the link.

import type { Board } from '../boards.js';

/** The macros of the generated tlg_board_config.h. */
export function boardMacros(board: Board): [string, string | number][] {
  const defines: [string, string | number][] = [
    ['TLG_BOARD_NAME', JSON.stringify(board.name)],
    ['TLG_CPU_HZ', board.core.clockHz],
    ['TLG_UART_BASE', `0x${board.uart.base.toString(16)}`],
    ['TLG_UART_BAUD', board.uart.baud],
  ];
  if (board.power.supply === 'ldo') defines.push(['TLG_POWER_LDO', 1]);
  if (board.power.supply === 'smps') defines.push(['TLG_POWER_SMPS', 1]);
  const clock = board.clock;
  if (clock) {
    defines.push([clock.source === 'hsi' ? 'TLG_CLK_SOURCE_HSI' : 'TLG_CLK_SOURCE_HSE', 1], ['TLG_CLK_SOURCE_HZ', clock.sourceHz]);
    if (clock.source === 'hse') defines.push(['TLG_CLK_HSE_BYPASS', clock.hseBypass ? 1 : 0]);
    defines.push(['TLG_CLK_VOS', clock.voltageScale]);
    for (const [key, value] of Object.entries(clock.pll1)) defines.push([`TLG_CLK_PLL1_${key.toUpperCase()}`, value]);
    for (const [key, value] of Object.entries(clock.prescalers)) defines.push([`TLG_CLK_${key.toUpperCase()}`, value]);
    defines.push(['TLG_CLK_FLASH_LATENCY', clock.flash.latency], ['TLG_CLK_FLASH_WRHIGHFREQ', clock.flash.programmingDelay]);
  }
  return defines;
}

export interface LinkerContext {
  generatedBy: string;
  memory: { name: string; origin: string; length: number }[];
  flashRegion: string;
  ramRegion: string;
  spillRegion?: string;
  flashBudget: number;
  ramBudget: number;
  stackBytes: number;
}

/**
 * The linker script's context: regions cut to the budget; code where "code" is held, the stack
 * where "stack" is, and .tlg_spill in another RAM region that holds data, if there is one.
 */
export function linkerContext(board: Board, generatedBy: string, budget = board.budget): LinkerContext {
  const regionHolding = (what: Board['memory'][number]['holds'][number]) => board.memory.find((r) => r.holds.includes(what));
  const flash = regionHolding('code');
  const ram = regionHolding('stack');
  if (!flash || !ram) throw new Error(`${board.name}: no memory region holds code or the stack`);
  const spill = board.memory.find((r) => r.kind === 'ram' && r !== ram && (r.holds.includes('data') || r.holds.includes('fast-weights')));
  return {
    generatedBy,
    memory: board.memory.map((r) => ({
      name: r.name,
      origin: `0x${r.origin.toString(16).padStart(8, '0')}`,
      length: Math.min(r.length, r.kind === 'flash' ? budget.flash : budget.ram),
    })),
    flashRegion: flash.name,
    ramRegion: ram.name,
    spillRegion: spill?.name,
    flashBudget: budget.flash,
    ramBudget: budget.ram,
    stackBytes: board.support.stackBytes,
  };
}
