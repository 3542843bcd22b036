// Plain data read from LANBilling. Everything the pure core (desired state, plan) needs about one
// account («учётная запись», a vgroup) comes in one AccountState value: no lazy loading, no I/O
// hidden behind getters, so the core can be tested with generated values.

/** `vgroups.blocked` codes (spec/lanbilling.md). Unknown codes are kept as numbers. */
export const BlockCode = {
  active: 0,
  balance: 1,
  user: 2,
  admin: 3,
  balanceActive: 4,
  trafficLimit: 5,
  switchedOff: 10,
} as const;

/** `agreements.state`: 0 active, 1 deleted, 2 terminated. */
export const AgreementState = { active: 0, deleted: 1, terminated: 2 } as const;

/** `service_categories.service_type`. */
export const ServiceType = { basic: 0, additional: 1 } as const;

/** The user card (`accounts`). */
export interface Card {
  uid: number;
  name: string | null;
  email: string | null;
  archive: boolean;
}

/** The contract (`agreements`): holds the money. Decimals stay strings: never floats for money. */
export interface Agreement {
  agrmId: number;
  number: string | null;
  /** decimal(20,6) as the database returns it, e.g. "-12.500000" */
  balance: string;
  credit: string;
  state: number;
  archive: boolean;
}

/** One `multitarifs` row of the vgroup. `dtto` null = open-ended. */
export interface MultiTariff {
  recordId: number;
  tarId: number;
  dtfrom: Date;
  dtto: Date | null;
}

/** One `services` row joined to its `service_categories` row. */
export interface AssignedService {
  serviceId: number;
  tarId: number;
  servCatIdx: number;
  /** `service_categories.uuid`: the Smotreshka subscription id; null/'' = not a TV service. */
  uuid: string | null;
  /** `service_categories.service_type`; null when the category row is missing. */
  serviceType: number | null;
  timefrom: Date;
  /** null = open-ended ('9999-12-31 23:59:59' is mapped to null by the read model). */
  timeto: Date | null;
  state: number;
  needCalc: number;
}

/** Everything about one vgroup that decides what the platform should have. */
export interface AccountState {
  vgId: number;
  login: string;
  /** `vgroups.id`: the agent. */
  agentId: number;
  /** `vgroups.tar_id`: the current main tariff. */
  tarId: number;
  blocked: number;
  archive: boolean;
  agreement: Agreement;
  card: Card;
  /** every multitarifs row of the vgroup, in force or not: windows are evaluated at time t. */
  multitarifs: MultiTariff[];
  /** every services row of the vgroup that has a non-empty uuid or could matter; see read model. */
  services: AssignedService[];
}
