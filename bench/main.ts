// `npm run bench`: every benchmark prints its figures next to a ceiling measured in the same run.
// BENCH_DURATION_S (default 5) sets the wrk duration; BENCH_RSS_GIB (default 1) the per-client
// object size of the memory test (10 clients); BENCH_LIST_KEYS (default 1,000,000) the listing size;
// BENCH_NOTIFY_EVENTS (default 20,000) the outbox events delivered to NATS; BENCH_LIFECYCLE_OBJECTS
// (default 50,000) the objects one lifecycle pass examines; BENCH_DURATION_S also sets each
// root-of-trust run, each KMS run and each XKS run. BENCH_SSE_LARGE_MIB (default 1024, the 1 GiB
// the KMS issue asks for) sizes the encrypted object of the ranged-GET latency run.
// BENCH_TLOG_ENTRIES (default 10,000,000) sizes the in-memory audit tree of the audit-tlog section.
// `npm run bench -- <section>` runs one section.
import { runAuditTlogBench } from './audit-tlog.ts';
import { benchAudit, benchAuditAppends } from './audit.ts';
import { runAuthorizationBench } from './authorization.ts';
import { benchEncryption } from './encryption.ts';
import { benchKms } from './kms.ts';
import { benchLifecycle } from './lifecycle.ts';
import { benchListing } from './listing.ts';
import { benchNotifications } from './notifications.ts';
import { benchRootOfTrust } from './root-of-trust.ts';
import { benchS3Core } from './s3-core.ts';
import { benchXks } from './xks.ts';

const durationS = Number(process.env.BENCH_DURATION_S ?? 5);
const rssGiB = Number(process.env.BENCH_RSS_GIB ?? 1);
const only = process.argv[2];

const sections: Record<string, () => Promise<string>> = {
  listing: () => benchListing(Number(process.env.BENCH_LIST_KEYS ?? 1_000_000), 10_000),
  's3-core': () =>
    benchS3Core({ durationS, rssClients: 10, rssObjectBytes: Math.round(rssGiB * 1024 * 1024 * 1024) }),
  notifications: () => benchNotifications(Number(process.env.BENCH_NOTIFY_EVENTS ?? 20_000)),
  lifecycle: () => benchLifecycle(Number(process.env.BENCH_LIFECYCLE_OBJECTS ?? 50_000)),
  kms: () => benchKms(durationS * 1000),
  'root-of-trust': () => benchRootOfTrust(durationS * 1000),
  xks: () => benchXks(durationS * 1000),
  encryption: () => benchEncryption(Number(process.env.BENCH_SSE_LARGE_MIB ?? 1024) * 1024 * 1024, 200),
  audit: async () => `${await benchAuditAppends(durationS)}\n\n${await benchAudit(durationS)}`,
  authorization: async () => {
    await runAuthorizationBench();
    return '';
  },
  // This section prints its own figures as it goes.
  'audit-tlog': async () => {
    await runAuditTlogBench();
    return '';
  },
};

for (const [name, bench] of Object.entries(sections)) {
  if (only !== undefined && only !== name) continue;
  process.stdout.write(`${await bench()}\n`);
}
