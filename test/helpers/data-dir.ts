import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every file under `dir` with its bytes, for scans of a data directory. A running server removes
 * files while the scan runs (applied audit-journal segments): a file gone before it is read holds
 * nothing and is left out.
 */
export function readFilesUnder(dir: string): [path: string, bytes: Buffer][] {
  const files: [string, Buffer][] = [];
  for (const path of filesUnder(dir)) {
    const bytes = readIfPresent(path);
    if (bytes !== null) files.push([path, bytes]);
  }
  return files;
}

/** Paths of the regular files under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** A file's bytes, or null when it no longer exists. */
export function readIfPresent(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
