import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { IngestPacer } from '../../domain/storage/ports.ts';

export interface ScavengePacer extends IngestPacer {
  /** False where V8 would not hand out its collection function: the pacer then does nothing. */
  readonly active: boolean;
}

type CollectGarbage = (options: { type: 'minor'; execution: 'sync' }) => void;

/**
 * Runs a young-generation collection (a scavenge) after every `everyBytes` bytes that uploads
 * take, across all uploads at once (decision 0008).
 *
 * Why: node:http hands each 64 KiB piece of a request body to JavaScript in a buffer of its own,
 * memory outside V8's heap that only a collection frees. The JavaScript objects an upload
 * allocates are few, so the young generation fills slowly and scavenges are rare; meanwhile the
 * buffers' external memory crosses V8's limit and V8 starts full mark-compact collections, four
 * or five per 64 MiB, whose concurrent marking kept about 0.4 of a core busy on this host. A
 * scavenge every 4 MiB frees the same buffers while they are still young, for about 0.1 ms
 * each, and no full collection starts: 64 MiB PUTs went from ~265 to ~345 MiB/s
 * (docs/performance.md). A smaller semi-space does the same for uploads but costs every small
 * request ~20% more CPU.
 *
 * V8 hands out its collection function only to contexts created while `--expose-gc` is set, so
 * the flag is set for one new context and cleared again: the process's own global scope never
 * gets a `gc`.
 */
export function openScavengePacer(everyBytes: number): ScavengePacer {
  const collect = youngGenerationCollector();
  if (collect === null) return { active: false, took() {} };
  let sinceLast = 0;
  return {
    active: true,
    took(bytes: number) {
      sinceLast += bytes;
      if (sinceLast < everyBytes) return;
      sinceLast = 0;
      collect({ type: 'minor', execution: 'sync' });
    },
  };
}

function youngGenerationCollector(): CollectGarbage | null {
  try {
    setFlagsFromString('--expose-gc');
    const collect: unknown = runInNewContext('gc');
    return typeof collect === 'function' ? (collect as CollectGarbage) : null;
  } catch {
    return null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
