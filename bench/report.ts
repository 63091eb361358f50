/** Machine facts and Markdown tables for the benchmark report. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';

/** What the numbers were measured on. */
export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
  tmpFs: string;
}

/** Cores, CPU model (from /proc/cpuinfo), memory, Node.js, kernel and the temp dir's file system. */
export function describeMachine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpuModel;
    // SHA-256 in hardware (OpenSSL, so node, uses it; coreutils' sha256sum does not): verify's hashing depends on it.
    const flags = /^flags\s*:\s*(.+)$/m.exec(info)?.[1]?.split(/\s+/) ?? [];
    cpuModel += flags.includes('sha_ni') ? ' (SHA extensions)' : ' (no SHA extensions)';
  } catch {
    // not Linux: keep os.cpus()
  }
  let tmpFs = 'unknown';
  try {
    tmpFs = execFileSync('df', ['--output=fstype', tmpdir()], { encoding: 'utf8' }).trim().split('\n').pop()!.trim();
  } catch {
    // df without --output
  }
  return {
    cpuModel,
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    tmpFs: `${tmpdir()} (${tmpFs})`,
  };
}

/** A Markdown table; numbers are printed as given. */
export function table(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>): string => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Milliseconds with a precision that fits their size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value < 0.1) return value.toFixed(4);
  if (value < 10) return value.toFixed(3);
  return value.toFixed(1);
}

/** `200×1998, 500×2`: the statuses seen, most frequent first. */
export function statusSummary(statuses: Map<number, number>): string {
  return [...statuses.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([status, count]) => `${status}×${count}`)
    .join(', ');
}
