import { defineConfig } from 'vitest/config';

// Integration tests share one PostgreSQL and one MariaDB server; each test file makes its own
// databases (test/support/db.ts), so files may run in parallel. Slow end-to-end suites live in
// files named *.e2e.test.ts and can be skipped with `npm test -- --exclude '**/*.e2e.test.ts'`.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
