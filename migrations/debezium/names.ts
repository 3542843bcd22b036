// Names of what `migrate` adds to the billing database in debezium mode. Every name starts with the
// configured prefix, so an operator sees at a glance what belongs to the service and
// `migrate --uninstall` finds all of it again.

export interface DebeziumNames {
  /** PostgreSQL: the publication Debezium streams (connector `publication.name`) */
  publication: string;
  /** PostgreSQL: the table Debezium's heartbeat writes to, so that a quiet billing still moves the slot */
  heartbeat: string;
  /** PostgreSQL: each captured table's replica identity before `migrate` set it to FULL, to restore it */
  replicaIdentity: string;
  /** messages the consumer could not read, with their topic/partition/offset (both dialects) */
  captureErrors: string;
  /** PostgreSQL: replication slots of this database whose name starts with this are the service's */
  slotPrefix: string;
}

export function debeziumNames(prefix: string): DebeziumNames {
  return {
    publication: `${prefix}pub`,
    heartbeat: `${prefix}heartbeat`,
    replicaIdentity: `${prefix}replica_identity`,
    captureErrors: `${prefix}capture_errors`,
    slotPrefix: prefix,
  };
}
