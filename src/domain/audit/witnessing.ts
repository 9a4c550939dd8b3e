import type { Clock } from '../../platform/clock.ts';
import { auditError } from './errors.ts';
import type { AuditLogStore, StoredCheckpoint } from './ports.ts';
import { openNote, parseNote } from './tlog/signed-note.ts';
import type { NoteVerifier } from './tlog/note-keys.ts';

/** Cosignature lines accepted per submission. */
export const COSIGNATURE_LINES_MAX = 8;

/**
 * Witness cosignatures (c2sp.org/tlog-cosignature): the operator names witness keys; a witness
 * that has checked a checkpoint is consistent with the last one it saw submits its cosignature
 * line, which is verified against those keys and stored; the served checkpoint carries every
 * stored cosignature for its size, appended as the signed-note format allows.
 */
export class WitnessCosignatures {
  readonly #store: AuditLogStore;
  readonly #witnesses: readonly NoteVerifier[];
  readonly #clock: Clock;

  constructor(store: AuditLogStore, witnesses: readonly NoteVerifier[], clock: Clock) {
    this.#store = store;
    this.#witnesses = witnesses;
    this.#clock = clock;
  }

  /** The latest checkpoint with its witnesses' cosignatures; null before the first one. */
  async servedCheckpoint(): Promise<StoredCheckpoint | null> {
    const latest = await this.#store.latestCheckpoint();
    if (latest === null) return null;
    const lines = await this.#store.cosignatures(latest.treeSize);
    return lines.length === 0 ? latest : { ...latest, note: `${latest.note}${lines.join('')}` };
  }

  /**
   * Verifies `signatureLines` (each `— <name> <base64>\n`) as cosignatures by configured witness
   * keys of the checkpoint of `treeSize`, and stores them. Lines by unknown keys or with bad
   * signatures are refused as a whole.
   */
  async accept(treeSize: number, signatureLines: string): Promise<number> {
    if (this.#witnesses.length === 0) throw auditError('InvalidQuery', 'no witness keys are configured');
    const [checkpoint] = await this.#store.checkpoints(treeSize, treeSize, 1);
    if (checkpoint === undefined) throw auditError('NotFound', `no checkpoint of size ${treeSize}`);
    const { text } = parseNote(checkpoint.note);
    const lines = signatureLines.split('\n').filter((line) => line.length > 0);
    if (lines.length === 0 || lines.length > COSIGNATURE_LINES_MAX) {
      throw auditError('InvalidQuery', `send 1 to ${COSIGNATURE_LINES_MAX} cosignature lines`);
    }
    let opened;
    try {
      opened = openNote(`${text}\n${lines.map((line) => `${line}\n`).join('')}`, this.#witnesses);
    } catch (error) {
      throw auditError('InvalidQuery', `the cosignature does not verify: ${(error as Error).message}`);
    }
    if (opened.unverifiedSignatures.length > 0) {
      throw auditError('InvalidQuery', 'every line must be a cosignature by a configured witness key');
    }
    for (const signature of opened.verifiedSignatures) {
      const line = lines.find((candidate) => candidate.startsWith(`\u2014 ${signature.name} `))!;
      await this.#store.addCosignature(treeSize, signature.name, `${line}\n`, this.#clock.nowMs());
    }
    return opened.verifiedSignatures.length;
  }
}
