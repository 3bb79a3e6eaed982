// The pg driver adapter, made fit for Prisma's WebAssembly schema engine. Three gaps of adapter-pg 7.10:
//
// - The engine's introspection reads catalog columns of PostgreSQL's one-byte "char" type (OID 18), which
//   the adapter rejects as unsupported. We read them as text and declare them as the Character type.
// - executeScript splits a migration on every ';', which breaks function bodies ($$ … ; … $$). We send
//   the script whole, as one simple-protocol query, as the native engine does.
// - Its shadow database reuses the connection string, whose database name wins over the one it sets.
import { randomUUID } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { ColumnTypeEnum } from '@prisma/driver-adapter-utils';
import { dropDatabase, ensureDatabase } from './admin.ts';

const CHAR_OID = 18;
const TEXT_OID = 25;
const CHARACTER_COLUMN_TYPE = ColumnTypeEnum.Character;

interface PgResultLike {
  fields?: { dataTypeID: number }[];
}
interface Queryable {
  client: { query(sql: string): Promise<unknown> };
  performIO(query: unknown): Promise<PgResultLike>;
  queryRaw(query: unknown): Promise<{ columnTypes: number[] }>;
  onError(error: unknown): never;
  executeScript?(script: string): Promise<void>;
  startTransaction?(...args: unknown[]): Promise<Queryable>;
}

function patchQueryable<T>(target: T): T {
  const queryable = target as unknown as Queryable;
  if (queryable.executeScript) {
    queryable.executeScript = async (script) => {
      try {
        await queryable.client.query(script);
      } catch (error) {
        queryable.onError(error);
      }
    };
  }
  const performIO = queryable.performIO.bind(queryable);
  const queryRaw = Object.getPrototypeOf(queryable).queryRaw as Queryable['queryRaw'];
  queryable.queryRaw = async (query) => {
    let charColumns: number[] = [];
    // The adapter's own queryRaw, over a performIO that reads "char" columns as text and notes where.
    const view = Object.create(queryable, {
      performIO: {
        value: async (q: unknown) => {
          const result = await performIO(q);
          charColumns = [];
          result.fields?.forEach((field, i) => {
            if (field.dataTypeID === CHAR_OID) {
              field.dataTypeID = TEXT_OID;
              charColumns.push(i);
            }
          });
          return result;
        },
      },
    }) as Queryable;
    const out = await queryRaw.call(view, query);
    for (const i of charColumns) out.columnTypes[i] = CHARACTER_COLUMN_TYPE;
    return out;
  };
  const startTransaction = queryable.startTransaction?.bind(queryable);
  if (startTransaction) {
    queryable.startTransaction = async (...args) => patchQueryable(await startTransaction(...args));
  }
  return target;
}

export class SchemaEnginePgAdapter extends PrismaPg {
  readonly #databaseUrl: string;

  constructor(options: { connectionString: string }) {
    super(options);
    this.#databaseUrl = options.connectionString;
  }

  readonly #open = new Set<{ dispose(): Promise<void> }>();

  override async connect() {
    return this.#track(patchQueryable(await super.connect()));
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
    const adapter = patchQueryable(await new PrismaPg({ connectionString: shadowUrl }).connect());
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await dropDatabase(shadowUrl);
    };
    return this.#track(adapter);
  }
}
