/**
 * The audit log's intake journal on the gateway's own disk (domain/audit/ports.ts AuditJournal).
 * A write is one `write(2)` of one whole entry into the open segment file: once it returns, the
 * bytes are in the operating system's page cache and survive kill -9 of the process, the same
 * guarantee the log's SQLite transaction gives (synchronous=NORMAL), for a few microseconds
 * instead of a transaction.
 *
 * Layout (format 1, docs/reference/audit-log-formats.md "Intake journal"): `journal-id` holds
 * the journal's random id; `segment-<16 digits>.log` files start with the 8-byte header
 * `SVAJ` ‖ u16 format ‖ u16 zero, then entries `u32 length ‖ u32 CRC-32(payload) ‖ payload`,
 * payload = salt (32 bytes) ‖ retain-until (float64 ms) ‖ canonical record. Big-endian. A torn
 * or corrupt entry ends the segment on reading (only a power loss mid-write leaves one).
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { auditError } from '../../domain/audit/errors.ts';
import type { AuditJournal, JournaledRecord } from '../../domain/audit/ports.ts';
import { AUDIT_SALT_BYTES, parseCanonicalRecord, recordLeaf } from '../../domain/audit/records.ts';

const MAGIC = Buffer.from('SVAJ', 'latin1');
export const AUDIT_JOURNAL_FORMAT = 1;
const HEADER_BYTES = 8;
const ENTRY_HEADER_BYTES = 8;
const PAYLOAD_FIXED_BYTES = AUDIT_SALT_BYTES + 8;
const SEGMENT_FILE = /^segment-(\d{16})\.log$/;
const ID_FILE = 'journal-id';
const ID_PATTERN = /^[0-9a-f]{32}$/;

export interface FileAuditJournalOptions {
  directory: string;
  /** Records per segment: the open segment is closed when it holds this many (one log transaction each). */
  maxRecordsPerSegment: number;
}

export class FileAuditJournal implements AuditJournal {
  readonly id: string;
  readonly #directory: string;
  readonly #maxRecords: number;
  #open = 0;
  #fd: number | null = null;
  #count = 0;
  #resumed = false;

  constructor(options: FileAuditJournalOptions) {
    this.#directory = options.directory;
    this.#maxRecords = options.maxRecordsPerSegment;
    mkdirSync(this.#directory, { recursive: true, mode: 0o700 });
    this.id = readOrCreateId(join(this.#directory, ID_FILE));
  }

  get openSegment(): number {
    return this.#open;
  }

  resume(appliedSegment: number): { segment: number; records: JournaledRecord[] }[] {
    const segments = readdirSync(this.#directory)
      .map((name) => SEGMENT_FILE.exec(name))
      .filter((match) => match !== null)
      .map((match) => Number(match[1]))
      .sort((a, b) => a - b);
    this.#open = Math.max(appliedSegment, ...segments, -1) + 1;
    this.#resumed = true;
    return segments.map((segment) => ({
      segment,
      records: readSegment(readFileSync(this.#path(segment))),
    }));
  }

  write(record: JournaledRecord): number {
    if (!this.#resumed) throw auditError('LogUnavailable', 'the audit journal was written before resume()');
    if (this.#fd === null) this.#startSegment();
    const { salt, canonical } = record.sealed;
    const entry = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + PAYLOAD_FIXED_BYTES + canonical.length);
    const payload = entry.subarray(ENTRY_HEADER_BYTES);
    payload.set(salt, 0);
    payload.writeDoubleBE(record.retainUntilMs, AUDIT_SALT_BYTES);
    payload.set(canonical, PAYLOAD_FIXED_BYTES);
    entry.writeUInt32BE(payload.length, 0);
    entry.writeUInt32BE(crc32(payload), 4);
    writeFully(this.#fd!, entry);
    const segment = this.#open;
    this.#count += 1;
    if (this.#count >= this.#maxRecords) this.rotate();
    return segment;
  }

  rotate(): void {
    if (this.#fd === null) return;
    closeSync(this.#fd);
    this.#fd = null;
    this.#count = 0;
    this.#open += 1;
  }

  discard(segment: number): void {
    try {
      unlinkSync(this.#path(segment));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  #startSegment(): void {
    const fd = openSync(this.#path(this.#open), 'wx', 0o600);
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt16BE(AUDIT_JOURNAL_FORMAT, 4);
    writeFully(fd, header);
    this.#fd = fd;
    this.#count = 0;
  }

  #path(segment: number): string {
    return join(this.#directory, `segment-${String(segment).padStart(16, '0')}.log`);
  }
}

/** The records of one segment file, up to its first torn or corrupt entry. */
export function readSegment(bytes: Buffer): JournaledRecord[] {
  if (
    bytes.length < HEADER_BYTES ||
    !bytes.subarray(0, 4).equals(MAGIC) ||
    bytes.readUInt16BE(4) !== AUDIT_JOURNAL_FORMAT
  ) {
    return [];
  }
  const records: JournaledRecord[] = [];
  let offset = HEADER_BYTES;
  while (offset + ENTRY_HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const end = offset + ENTRY_HEADER_BYTES + length;
    if (length < PAYLOAD_FIXED_BYTES || end > bytes.length) break;
    const payload = bytes.subarray(offset + ENTRY_HEADER_BYTES, end);
    if (crc32(payload) !== bytes.readUInt32BE(offset + 4)) break;
    const salt = Buffer.from(payload.subarray(0, AUDIT_SALT_BYTES));
    const canonical = Buffer.from(payload.subarray(PAYLOAD_FIXED_BYTES));
    let record;
    try {
      record = parseCanonicalRecord(canonical);
    } catch {
      break;
    }
    records.push({
      sealed: { record, canonical, salt, leaf: recordLeaf(canonical, salt) },
      retainUntilMs: payload.readDoubleBE(AUDIT_SALT_BYTES),
    });
    offset = end;
  }
  return records;
}

function writeFully(fd: number, bytes: Buffer): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}

function readOrCreateId(path: string): string {
  if (existsSync(path)) {
    const id = readFileSync(path, 'utf8').trim();
    if (!ID_PATTERN.test(id)) throw auditError('LogUnavailable', `${path} does not hold an audit journal id`);
    return id;
  }
  const id = randomBytes(16).toString('hex');
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeFully(fd, Buffer.from(`${id}\n`));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return id;
}
