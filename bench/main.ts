// `npm run bench`: every benchmark prints its figures next to a ceiling measured in the same run.
// BENCH_DURATION_S (default 5) sets the wrk duration; BENCH_RSS_GIB (default 1) the per-client
// object size of the memory test (10 clients); BENCH_LIST_KEYS (default 1,000,000) the listing size.
// `npm run bench -- <section>` runs one section.
import { benchListing } from './listing.ts';
import { benchS3Core } from './s3-core.ts';

const durationS = Number(process.env.BENCH_DURATION_S ?? 5);
const rssGiB = Number(process.env.BENCH_RSS_GIB ?? 1);
const only = process.argv[2];

const sections: Record<string, () => Promise<string>> = {
  listing: () => benchListing(Number(process.env.BENCH_LIST_KEYS ?? 1_000_000), 10_000),
  's3-core': () =>
    benchS3Core({ durationS, rssClients: 10, rssObjectBytes: Math.round(rssGiB * 1024 * 1024 * 1024) }),
};

for (const [name, bench] of Object.entries(sections)) {
  if (only !== undefined && only !== name) continue;
  process.stdout.write(`${await bench()}\n`);
}
