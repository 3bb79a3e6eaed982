// The pg driver adapter, made fit for Prisma's WebAssembly schema engine.
//
// The engine's introspection reads catalog columns of PostgreSQL's one-byte "char" type (OID 18), which
// @prisma/adapter-pg 7.10 rejects as unsupported. Those values are single ASCII letters, so we relabel
// the column as text before the adapter maps its type. Nothing else passes through here.
import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { dropDatabase, ensureDatabase } from './admin.ts';

const CHAR_OID = 18;
const CHAR_ARRAY_OID = 1002;
const TEXT_OID = 25;
const TEXT_ARRAY_OID = 1009;

interface PgResultLike {
  fields?: { dataTypeID: number }[];
}
interface Queryable {
  performIO(query: unknown): Promise<PgResultLike>;
  startTransaction?(...args: unknown[]): Promise<Queryable>;
}

function relabelCharColumns<T>(target: T): T {
  const queryable = target as unknown as Queryable;
  const performIO = queryable.performIO.bind(queryable);
  queryable.performIO = async (query) => {
    const result = await performIO(query);
    for (const field of result.fields ?? []) {
      if (field.dataTypeID === CHAR_OID) field.dataTypeID = TEXT_OID;
      else if (field.dataTypeID === CHAR_ARRAY_OID) field.dataTypeID = TEXT_ARRAY_OID;
    }
    return result;
  };
  const startTransaction = queryable.startTransaction?.bind(queryable);
  if (startTransaction) {
    queryable.startTransaction = async (...args) => relabelCharColumns(await startTransaction(...args));
  }
  return target;
}

/**
 * Also gives the engine a working shadow database: adapter-pg's own one reuses the connection string, whose
 * database name wins over the one it sets, so the "shadow" would be the real database.
 */
export class SchemaEnginePgAdapter extends PrismaPg {
  readonly #databaseUrl: string;

  constructor(options: { connectionString: string }) {
    super(options);
    this.#databaseUrl = options.connectionString;
  }

  readonly #open = new Set<{ dispose(): Promise<void> }>();

  override async connect() {
    return this.#track(relabelCharColumns(await super.connect()));
  }

  /** Closes every connection pool the engine opened (the engine's free() leaves them open). */
  async disposeAll(): Promise<void> {
    const open = [...this.#open];
    this.#open.clear();
    await Promise.allSettled(open.map((adapter) => adapter.dispose()));
  }

  #track<T extends { dispose(): Promise<void> }>(adapter: T): T {
    const dispose = adapter.dispose.bind(adapter);
    let disposed = false;
    adapter.dispose = async () => {
      if (disposed) return;
      disposed = true;
      this.#open.delete(adapter);
      await dispose();
    };
    this.#open.add(adapter);
    return adapter;
  }

  override async connectToShadowDb() {
    const url = new URL(this.#databaseUrl);
    url.pathname = `/prisma_shadow_${randomUUID().replace(/-/g, '')}`;
    const shadowUrl = url.toString();
    await ensureDatabase(shadowUrl);
    const adapter = relabelCharColumns(await new PrismaPg({ connectionString: shadowUrl }).connect());
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await dropDatabase(shadowUrl);
    };
    return this.#track(adapter);
  }
}
