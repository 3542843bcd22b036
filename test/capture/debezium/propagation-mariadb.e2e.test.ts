// MariaDB → Debezium (binlog) → Kafka → service → simulator: the propagation behaviours (a
// representative subset; PostgreSQL runs all of them) and an unreadable message. See scenarios.ts.
import { describe } from 'vitest';
import { announceSkip, stackProblem } from '../../support/stack.js';
import { propagationSuite } from './scenarios.js';

const problem = await stackProblem();
announceSkip('debezium propagation on MariaDB', problem);

describe.skipIf(problem !== null)('Debezium capture on MariaDB', () => {
  propagationSuite('mysql', 'subset');
});
