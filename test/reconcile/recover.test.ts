import { describe, expect, it } from 'vitest';
import { platformSideFor } from '../../src/reconcile/platform-changes.js';

describe('a recovery run (the previous run was interrupted)', () => {
  it.each(['mirror', 'report', 'revert'] as const)('converges everything under %s: the applied record may be stale', (policy) => {
    const side = platformSideFor(policy, 'recover');
    expect(side.keepSwitchedOn).toBe(false);
    expect(side.keepSwitchedOff).toBe(false);
  });

  it('while plain propagation under mirror leaves platform-side changes to the scan', () => {
    expect(platformSideFor('mirror', 'propagate')).toMatchObject({ keepSwitchedOn: true, keepSwitchedOff: true });
  });
});
