/** A batch refused as a whole (I7): nothing of it was applied. */
export class BatchRejectedError extends Error {
  /** Position of the offending change in the batch, when one change is at fault. */
  readonly index: number | undefined;
  /** Its identity (origin/sequence), when known. */
  readonly change: string | undefined;

  constructor(reason: string, where?: { index: number; change?: string }) {
    const prefix = where ? `change #${where.index}${where.change ? ` (${where.change})` : ''}: ` : '';
    super(`${prefix}${reason}`);
    this.name = 'BatchRejectedError';
    this.index = where?.index;
    this.change = where?.change;
  }
}

/**
 * A change whose identity (origin node, origin sequence) is already taken by a different change, or that
 * claims to come from this node without being in its log (I12). Nothing of its batch is applied; the
 * caller raises an integrity alert.
 */
export class IdentityConflictError extends BatchRejectedError {
  constructor(reason: string, where: { index: number; change: string }) {
    super(`identity conflict: ${reason}`, where);
    this.name = 'IdentityConflictError';
  }
}
