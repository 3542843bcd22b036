// The fan-out lookups of a whole batch (agreement → vgroups, card → vgroups, category → vgroups)
// made in parallel before translate() walks the batch. translate() resolves each change's accounts
// one after the other, and with a lookup per distinct agreement a charging run of a thousand
// balance changes is a thousand database round trips in a row: on a busy two-core machine that
// capped the Debezium consumer at ~180 changes/s, below the 200/s target. Which lookups a batch
// needs is asked of translate's own rules (affectedAccounts with a recording fan-out, no I/O), so
// the two can't disagree; a lookup missing from the prefetch still goes to the database.
import pLimit from 'p-limit';
import { affectedAccounts, type Fanout } from './translate.js';
import type { ChangeEvent } from './types.js';

export async function prefetchFanout(
  events: ChangeEvent[],
  fanout: Fanout,
  at: Date,
  concurrency = 8,
): Promise<Fanout> {
  const wanted = new Map<string, () => Promise<number[]>>();
  const recorder: Fanout = {
    vgIdsOfAgreement: async (id) => {
      wanted.set(`a${id}`, () => fanout.vgIdsOfAgreement(id));
      return [];
    },
    vgIdsOfCard: async (uid) => {
      wanted.set(`c${uid}`, () => fanout.vgIdsOfCard(uid));
      return [];
    },
    vgIdsHoldingCategory: async (tar, idx) => {
      wanted.set(`s${tar}/${idx}`, () => fanout.vgIdsHoldingCategory(tar, idx, at));
      return [];
    },
  };
  for (const e of events) await affectedAccounts(e, recorder, at);
  const found = new Map<string, number[]>();
  const limit = pLimit(concurrency);
  await Promise.all([...wanted].map(([key, load]) => limit(async () => found.set(key, await load()))));
  return {
    vgIdsOfAgreement: async (id) => found.get(`a${id}`) ?? fanout.vgIdsOfAgreement(id),
    vgIdsOfCard: async (uid) => found.get(`c${uid}`) ?? fanout.vgIdsOfCard(uid),
    vgIdsHoldingCategory: async (tar, idx, when) =>
      found.get(`s${tar}/${idx}`) ?? fanout.vgIdsHoldingCategory(tar, idx, when ?? at),
  };
}
