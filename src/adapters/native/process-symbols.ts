import type { LibraryHandle } from 'koffi';

/**
 * Loaded once and held for the life of the process: koffi unloads a collected handle's library,
 * so the functions bound from it stay valid only while it is referenced — here, always.
 */
let library: LibraryHandle | null = null;

/**
 * The symbols of the running process (`dlopen(NULL)`), for the few calls Node does not offer:
 * Node's binary exports its statically linked OpenSSL for native addons (a Node linked against a
 * shared libcrypto has it loaded), so no second OpenSSL is ever loaded beside Node's; the C
 * library is there too.
 */
export async function loadProcessSymbols(): Promise<LibraryHandle> {
  if (library !== null) return library;
  const koffi = (await import('koffi')).default;
  library = koffi.load(null);
  return library;
}

/**
 * Binds each C prototype to a function of `library`; `Native` transcribes the prototypes as
 * TypeScript signatures (koffi checks the arguments against the prototype at every call).
 */
export function bindPrototypes<Native>(
  library: LibraryHandle,
  prototypes: Record<keyof Native, string>,
): Native {
  const bound: Partial<Record<keyof Native, unknown>> = {};
  for (const name of Object.keys(prototypes) as (keyof Native)[]) {
    bound[name] = library.func(prototypes[name]);
  }
  // Each function was bound from the prototype its Native signature transcribes.
  return bound as Native;
}
