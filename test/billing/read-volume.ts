// By hand, not in the suite: loads 100,000 generated accounts into a fresh database per dialect and
// times the generator and a full keyset walk with pageAccounts. Prints one line per dialect, with
// this process's CPU time beside the wall time and the load average: on a shared machine the wall
// time mostly measures the other tenants, the CPU time does not. With a zone, the accounts are
// written and read on that billing clock (the cost of converting every DATETIME).
//   npx tsx test/billing/read-volume.ts [count] [pageSize] [zone]
import { loadavg } from 'node:os';
import { billingClock } from '../../src/billing/clock.js';
import { billingReader } from '../../src/billing/read.js';
import { loadCatalogue } from '../fixture/catalogue.js';
import { generateAccounts } from '../fixture/generate.js';
import { createLanbillingSchema } from '../fixture/lanbilling-schema.js';
import { createTestDatabase, DIALECTS } from '../support/db.js';

const count = Number(process.argv[2] ?? 100_000);
const pageSize = Number(process.argv[3] ?? 1_000);
const clock = billingClock(process.argv[4] ?? 'UTC');
const now = new Date();

for (const dialect of DIALECTS) {
  const db = await createTestDatabase(dialect, 'volume');
  try {
    await createLanbillingSchema(db.knex, dialect);
    await loadCatalogue(db.knex, now, clock);
    let t = performance.now();
    let cpu = process.cpuUsage();
    const summary = await generateAccounts(db.knex, dialect, { count, seed: 42, now, clock });
    const generateMs = performance.now() - t;
    const generateCpu = process.cpuUsage(cpu);

    const reader = billingReader(db.knex, clock);
    t = performance.now();
    cpu = process.cpuUsage();
    let after = 0;
    let accounts = 0;
    let services = 0;
    for (;;) {
      const page = await reader.pageAccounts(after, pageSize, now);
      if (page.length === 0) break;
      accounts += page.length;
      for (const a of page) services += a.services.length;
      after = page[page.length - 1]!.vgId;
    }
    const pageMs = performance.now() - t;
    const pageCpu = process.cpuUsage(cpu);
    const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const cpuSec = (u: NodeJS.CpuUsage) => sec((u.user + u.system) / 1000);
    const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
    console.log(
      `${dialect} (${clock.zone}): generated ${summary.accounts} accounts (${summary.tvServices + summary.otherServices} services rows) ` +
        `in ${sec(generateMs)} (node cpu ${cpuSec(generateCpu)}); paged ${accounts} accounts (${services} services) ` +
        `in pages of ${pageSize} in ${sec(pageMs)} (node cpu ${cpuSec(pageCpu)}); rss ${rss} MB; ` +
        `load ${loadavg()[0]!.toFixed(1)}`,
    );
  } finally {
    await db.drop();
  }
}
