// The catalogue the simulator starts with. The sample billing data and the tests use the same ids,
// so a fresh simulator and a fresh sample billing agree out of the box. The platform itself has no
// basic/additional flag (the billing decides); SAMPLE_SUBSCRIPTION_KINDS says how the sample
// billing files them.
import type { CatalogueSubscription } from '../types.js';

export const DEFAULT_CATALOGUE: readonly CatalogueSubscription[] = Object.freeze([
  { id: '100', name: 'Базовый' },
  { id: '101', name: 'Оптимальный' },
  { id: '102', name: 'Максимальный' },
  { id: '5010', name: 'Кино' },
  { id: '5011', name: 'Детский' },
  { id: '5012', name: 'Спорт' },
  { id: '5013', name: 'Матч Премьер' },
  { id: '5099', name: 'Архивная' },
]);

/** Listed in the catalogue, but enabling it answers 400 ...ValidationErrIsArchived. */
export const DEFAULT_ARCHIVED_SUBSCRIPTIONS: readonly string[] = Object.freeze(['5099']);

export const SAMPLE_SUBSCRIPTION_KINDS = Object.freeze({
  basic: Object.freeze(['100', '101', '102']),
  additional: Object.freeze(['5010', '5011', '5012', '5013']),
  archived: DEFAULT_ARCHIVED_SUBSCRIPTIONS,
});
