// PostgreSQL → Debezium (pgoutput) → Kafka → service → simulator: every propagation behaviour,
// row moves and key changes, an unreadable message, and the replay runbook. See scenarios.ts.
import { describe } from 'vitest';
import { announceSkip, stackProblem } from '../../support/stack.js';
import { propagationSuite } from './scenarios.js';

const problem = await stackProblem();
announceSkip('debezium propagation on PostgreSQL', problem);

describe.skipIf(problem !== null)('Debezium capture on PostgreSQL', () => {
  propagationSuite('pg', 'full');
});
