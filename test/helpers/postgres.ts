import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';

/**
 * A fresh, uniquely named schema in the `test` database of the PostgreSQL at 127.0.0.1:5432 (trust
 * authentication), dropped again by `drop()`. PostgreSQL is required: when it cannot be reached
 * this throws, so the tests fail loudly instead of passing without having run.
 */
export interface TestSchema {
  connectionString: string;
  schema: string;
  drop(): Promise<void>;
}

const HOST = '127.0.0.1';
const PORT = 5432;
const DATABASE = 'test';

let reachableUser: string | null = null;

export async function createTestSchema(): Promise<TestSchema> {
  const user = reachableUser ?? (await findUser());
  reachableUser = user;
  const connectionString = `postgres://${encodeURIComponent(user)}@${HOST}:${PORT}/${DATABASE}`;
  const schema = `sovra_test_${randomBytes(6).toString('hex')}`;
  await withClient(connectionString, (client) => client.query(`CREATE SCHEMA ${schema}`));
  return {
    connectionString,
    schema,
    drop: async () => {
      await withClient(connectionString, (client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    },
  };
}

/** Tries `postgres`, then the current OS user; fails with every reason when neither connects. */
async function findUser(): Promise<string> {
  const failures: string[] = [];
  for (const user of ['postgres', userInfo().username]) {
    try {
      await withClient(`postgres://${encodeURIComponent(user)}@${HOST}:${PORT}/${DATABASE}`, (client) =>
        client.query('SELECT 1'),
      );
      return user;
    } catch (error) {
      failures.push(`${user}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(
    `PostgreSQL is required for these tests and could not be reached at ${HOST}:${PORT}, database "${DATABASE}" ` +
      `(trust authentication as "postgres" or the current user). Start it and create the database ` +
      `("createdb -h ${HOST} -U postgres ${DATABASE}"). Attempts: ${failures.join('; ')}`,
  );
}

async function withClient<T>(connectionString: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
