import { isIP } from 'node:net';
import { LIMITS } from '../../platform/limits.ts';
import { SovraError } from '../../platform/errors.ts';

/**
 * Network jurisdiction of a requester: the ISO 3166-1 alpha-2 country its source address belongs
 * to, from an operator-supplied map of CIDR ranges. Loopback and private ranges (RFC 1918, RFC
 * 4193, link-local) are the platform's own network, so they belong to its home jurisdiction
 * unless the map says otherwise; any other unmapped address is 'unknown'. The longest matching
 * prefix wins, as in IP routing.
 */
export type JurisdictionErrorCode = 'InvalidJurisdictionMap';

export class JurisdictionError extends SovraError<JurisdictionErrorCode> {}

export const UNKNOWN_JURISDICTION = 'unknown';

interface Range {
  family: 4 | 6;
  network: bigint;
  prefixLength: number;
  country: string;
}

const PRIVATE_RANGES = [
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '169.254.0.0/16',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
];

/** The ranges of one family and prefix length, by network number (the address's leading bits). */
interface PrefixTable {
  family: 4 | 6;
  shift: bigint;
  networks: Map<bigint, string>;
}

/**
 * Longest-prefix match of source addresses to countries. Ranges are grouped by family and prefix
 * length, each group a hash table keyed by the network's leading bits, so a lookup costs one
 * probe per distinct prefix length (at most 33 for IPv4, 129 for IPv6) however many ranges the
 * operator maps (up to LIMITS.jurisdictionMapMaxEntries): it runs twice on every request.
 */
export class JurisdictionMap {
  /** Longest prefix first. */
  readonly #tables: PrefixTable[];
  readonly #home: string;

  /** `ranges` maps CIDR text to a country code; `homeJurisdiction` is the platform's country ('unknown' allowed). */
  constructor(ranges: Readonly<Record<string, string>>, homeJurisdiction: string) {
    this.#home = checkCountry(homeJurisdiction, 'home jurisdiction');
    const entries = Object.entries(ranges);
    if (entries.length > LIMITS.jurisdictionMapMaxEntries) {
      throw invalid(`at most ${LIMITS.jurisdictionMapMaxEntries} ranges are allowed`);
    }
    const mapped = entries.map(([cidr, country]) => parseRange(cidr, checkCountry(country, cidr)));
    const home = PRIVATE_RANGES.map((cidr) => parseRange(cidr, this.#home));
    const tables = new Map<string, PrefixTable & { prefixLength: number }>();
    // The operator's ranges first: a default range of the same network does not replace them.
    for (const range of [...mapped, ...home]) {
      const bits = range.family === 4 ? 32 : 128;
      const id = `${range.family}/${range.prefixLength}`;
      let table = tables.get(id);
      if (table === undefined) {
        table = {
          family: range.family,
          prefixLength: range.prefixLength,
          shift: BigInt(bits - range.prefixLength),
          networks: new Map(),
        };
        tables.set(id, table);
      }
      const network = range.network >> table.shift;
      if (!table.networks.has(network)) table.networks.set(network, range.country);
    }
    this.#tables = [...tables.values()].sort((a, b) => b.prefixLength - a.prefixLength);
  }

  /** Parses the JSON file's text: `{ "ranges": { "<cidr>": "<country>" } }`. */
  static fromJson(text: string, homeJurisdiction: string): JurisdictionMap {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw invalid('the jurisdiction map is not valid JSON');
    }
    const ranges: unknown =
      typeof parsed === 'object' && parsed !== null && 'ranges' in parsed ? parsed.ranges : undefined;
    if (typeof ranges !== 'object' || ranges === null || Array.isArray(ranges)) {
      throw invalid('the jurisdiction map must be an object with a "ranges" object');
    }
    const checked: Record<string, string> = {};
    for (const [cidr, country] of Object.entries(ranges)) {
      if (typeof country !== 'string') throw invalid(`the country of ${cidr} must be a string`);
      checked[cidr] = country;
    }
    return new JurisdictionMap(checked, homeJurisdiction);
  }

  get homeJurisdiction(): string {
    return this.#home;
  }

  /** The jurisdiction of a source address; 'unknown' for unmapped or unparsable addresses. */
  jurisdictionOf(address: string): string {
    const parsed = parseAddress(address);
    if (parsed === null) return UNKNOWN_JURISDICTION;
    for (const table of this.#tables) {
      if (table.family !== parsed.family) continue;
      const country = table.networks.get(parsed.value >> table.shift);
      if (country !== undefined) return country;
    }
    return UNKNOWN_JURISDICTION;
  }
}

function parseRange(cidr: string, country: string): Range {
  const slash = cidr.indexOf('/');
  const address = parseAddress(slash === -1 ? cidr : cidr.slice(0, slash));
  if (address === null) throw invalid(`${cidr} is not a CIDR range`);
  const bits = address.family === 4 ? 32 : 128;
  const lengthText = slash === -1 ? String(bits) : cidr.slice(slash + 1);
  const prefixLength = /^\d{1,3}$/.test(lengthText) ? Number(lengthText) : -1;
  if (prefixLength < 0 || prefixLength > bits) throw invalid(`${cidr} has an invalid prefix length`);
  return { family: address.family, network: address.value, prefixLength, country };
}

/** An address as a number; IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) count as IPv4. */
function parseAddress(text: string): { family: 4 | 6; value: bigint } | null {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  const address = mapped?.[1] ?? text;
  const family = isIP(address);
  if (family === 4) {
    let value = 0n;
    for (const part of address.split('.')) value = (value << 8n) | BigInt(Number(part));
    return { family: 4, value };
  }
  if (family !== 6) return null;
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded dotted IPv4 tail (::a.b.c.d) is two groups.
  const expand = (groups: string[]): string[] =>
    groups.flatMap((group) => {
      if (!group.includes('.')) return [group];
      const octets = group.split('.').map(Number);
      return [
        (((octets[0] ?? 0) << 8) | (octets[1] ?? 0)).toString(16),
        (((octets[2] ?? 0) << 8) | (octets[3] ?? 0)).toString(16),
      ];
    });
  const left = expand(headGroups);
  const right = expand(tailGroups);
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  let value = 0n;
  for (const group of [...left, ...zeros, ...right]) value = (value << 16n) | BigInt(parseInt(group, 16));
  return { family: 6, value };
}

function checkCountry(country: string, where: string): string {
  if (!/^[A-Z]{2}$/.test(country) && country !== UNKNOWN_JURISDICTION) {
    throw invalid(`${where}: the jurisdiction must be an ISO 3166-1 alpha-2 code (two capital letters)`);
  }
  return country;
}

function invalid(message: string): JurisdictionError {
  return new JurisdictionError('InvalidJurisdictionMap', message);
}
