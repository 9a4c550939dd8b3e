import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  switch (unit) {
    case 'us':
      return n / 1000;
    case 'ms':
      return n;
    case 's':
      return n * 1000;
    default:
      return n;
  }
}

/**
 * Drives a URL with wrk (a light C client, so the server and not the client is measured).
 * `script` is an optional Lua file (for PUT bodies).
 */
export async function wrk(
  url: string,
  options: { connections: number; threads?: number; durationS: number; script?: string },
): Promise<WrkResult> {
  const args = [
    '-t',
    String(Math.min(options.threads ?? 2, options.connections)),
    '-c',
    String(options.connections),
    '-d',
    `${options.durationS}s`,
    '--latency',
  ];
  if (options.script !== undefined) args.push('-s', options.script);
  args.push(url);
  const { stdout } = await run('wrk', args, { maxBuffer: 16 * 1024 * 1024 });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  const socketErrors = /Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)/.exec(stdout);
  if (rps === null || p50 === null || p99 === null) throw new Error(`unexpected wrk output:\n${stdout}`);
  const errors =
    Number(non2xx?.[1] ?? 0) +
    (socketErrors === null ? 0 : socketErrors.slice(1).reduce((s, v) => s + Number(v), 0));
  return {
    requestsPerSecond: Number(rps[1]),
    p50Ms: toMs(p50[1]!, p50[2]!),
    p99Ms: toMs(p99[1]!, p99[2]!),
    errors,
  };
}

/** A wrk Lua script that sends every request as PUT with a fixed body. */
export function putScript(path: string, bodyBytes: number): string {
  writeFileSync(
    path,
    `wrk.method = "PUT"\nwrk.body = string.rep("x", ${bodyBytes})\nwrk.headers["Content-Length"] = "${bodyBytes}"\n`,
  );
  return path;
}

/** CPU time (user + system) a process has used so far, in seconds (/proc/<pid>/stat fields 14, 15). */
export function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Peak resident set (VmHWM) and current RSS of a process, in MiB. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

export function formatTable(rows: (string | number)[][]): string {
  const text = rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)));
  const widths = text[0]!.map((_, i) => Math.max(...text.map((r) => r[i]!.length)));
  return text
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}
