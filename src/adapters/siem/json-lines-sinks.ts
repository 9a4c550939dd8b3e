import { open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OcsfEvent } from '../../domain/audit/ocsf.ts';
import { siemError } from '../../domain/audit/siem-errors.ts';
import type { SiemSink } from '../../domain/audit/siem-sink.ts';

/** One event per line (https://jsonlines.org/): compact JSON, LF-terminated. */
export function jsonLines(events: readonly OcsfEvent[]): string {
  let text = '';
  for (const event of events) text += `${JSON.stringify(event)}\n`;
  return text;
}

/**
 * JSON lines appended to a file. Each batch is one append followed by fdatasync, so an
 * acknowledged batch survives a crash of the machine. The file is opened per batch: when log
 * rotation renames it, the next batch starts a new file at the configured path (no signal needed).
 * A new file is created mode 0600: the events name every tenant's principals and resources.
 */
export class FileSiemSink implements SiemSink {
  readonly name: string;
  readonly #path: string;

  constructor(options: { name: string; path: string }) {
    this.name = options.name;
    this.#path = options.path;
  }

  async send(events: readonly OcsfEvent[], signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const created = !(await exists(this.#path));
    try {
      const file = await open(this.#path, 'a', 0o600);
      try {
        await file.appendFile(jsonLines(events), 'utf8');
        await file.datasync();
      } finally {
        await file.close();
      }
      // A new file's directory entry is durable only once the directory is synced too.
      if (created) await syncDirectory(dirname(this.#path));
    } catch (error) {
      throw siemError('SinkUnavailable', `cannot append to ${this.#path}`, { sink: this.name }, error);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * JSON lines on a stream, by default the server's standard output (where its own JSON log lines
 * go too; tell them apart by `class_uid`). Acknowledged once the stream has taken the batch.
 */
export class StdoutSiemSink implements SiemSink {
  readonly name: string;
  readonly #stream: NodeJS.WritableStream;

  constructor(options: { name: string; stream?: NodeJS.WritableStream }) {
    this.name = options.name;
    this.#stream = options.stream ?? process.stdout;
  }

  send(events: readonly OcsfEvent[], signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      this.#stream.write(jsonLines(events), (error) => {
        if (error === null || error === undefined) resolve();
        else
          reject(
            siemError('SinkUnavailable', 'standard output refused the events', { sink: this.name }, error),
          );
      });
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
