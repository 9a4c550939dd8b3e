import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { SqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.ts';
import { LIMITS } from '../../src/platform/limits.ts';

async function withDatabase(body: (db: SqliteDatabase, path: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'sovra-group-commit-'));
  const path = join(directory, 'test.db');
  const db = new SqliteDatabase(path);
  try {
    await db.transaction((session) =>
      session.runScript(
        `CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
           parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
         INSERT INTO parent (id) VALUES (1);`,
      ),
    );
    await body(db, path);
  } finally {
    await db.close();
    await rm(directory, { recursive: true, force: true });
  }
}

/** What another connection to the file sees as committed. */
function committedNames(path: string): string[] {
  const probe = new DatabaseSync(path, { readOnly: true });
  try {
    return probe
      .prepare('SELECT name FROM item ORDER BY id')
      .all()
      .map((row) => String(row['name']));
  } finally {
    probe.close();
  }
}

const insert =
  (name: string, parent = 1) =>
  (session: Parameters<Parameters<SqliteDatabase['transaction']>[0]>[0]) =>
    session.execute('INSERT INTO item (name, parent) VALUES (?, ?)', [name, parent]);

void describe('SQLite group commit', () => {
  void test('transactions queued while one runs commit with it, and each caller hears only after the commit', async () => {
    await withDatabase(async (db, path) => {
      const events: string[] = [];
      let releaseFirst: () => void = () => {};
      const firstMayFinish = new Promise<void>((resolve) => {
        releaseFirst = resolve;
      });
      const first = db.transaction(async (session) => {
        events.push('first runs');
        await insert('first')(session);
        await firstMayFinish;
        return 'first';
      });
      const later = ['second', 'third'].map((name) =>
        db.transaction(async (session) => {
          events.push(`${name} runs`);
          await insert(name)(session);
          return name;
        }),
      );
      void first.then(() => events.push('first answered'));
      await new Promise((resolve) => setImmediate(resolve));
      // The first transaction is open: nothing is committed yet.
      assert.deepEqual(committedNames(path), []);
      releaseFirst();
      assert.deepEqual(await Promise.all([first, ...later]), ['first', 'second', 'third']);
      assert.deepEqual(events.slice(0, 4), ['first runs', 'second runs', 'third runs', 'first answered']);
      assert.deepEqual(committedNames(path), ['first', 'second', 'third']);
    });
  });

  void test('a transaction that fails is rolled back alone; the others of its group commit', async () => {
    await withDatabase(async (db, path) => {
      const outcomes = await Promise.allSettled([
        db.transaction(insert('a')),
        db.transaction(async (session) => {
          await insert('b')(session);
          await insert('a')(session); // UNIQUE violation: b goes too
        }),
        db.transaction(insert('c')),
      ]);
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.ok(db.isUniqueViolation((outcome(outcomes[1]) as PromiseRejectedResult).reason));
      assert.deepEqual(committedNames(path), ['a', 'c']);
      // The first transaction of a group runs without a savepoint: its failure must not take
      // the ones queued behind it.
      const afterFirst = await Promise.allSettled([
        db.transaction(insert('a')),
        db.transaction(insert('d')),
        db.transaction(insert('e')),
      ]);
      assert.deepEqual(
        afterFirst.map((each) => each.status),
        ['rejected', 'fulfilled', 'fulfilled'],
      );
      assert.deepEqual(committedNames(path), ['a', 'c', 'd', 'e']);
    });
  });

  void test('when the group’s COMMIT fails, every transaction of the group fails and none is kept', async () => {
    await withDatabase(async (db, path) => {
      // A deferred foreign key is checked at COMMIT: the second transaction's row fails the
      // whole commit, after both callbacks returned.
      const outcomes = await Promise.allSettled([
        db.transaction(insert('ok')),
        db.transaction(insert('orphan', 99)),
      ]);
      assert.deepEqual(
        outcomes.map((each) => each.status),
        ['rejected', 'rejected'],
      );
      assert.deepEqual(committedNames(path), []);
      // The database goes on accepting transactions.
      await db.transaction(insert('after'));
      assert.deepEqual(committedNames(path), ['after']);
    });
  });

  void test('a group is fsynced when a power-loss transaction waits as it starts; process-crash ones may join it, never the reverse', async () => {
    await withDatabase(async (db) => {
      const synchronousIn = (durability: 'power-loss' | 'process-crash') =>
        db.transaction(async (session) => {
          const [row] = await session.query('PRAGMA synchronous', []);
          return [durability, Number(row?.['synchronous'])];
        }, durability);
      // FULL = 2, NORMAL = 1 (https://sqlite.org/pragma.html#pragma_synchronous).
      assert.deepEqual(
        await Promise.all([
          synchronousIn('process-crash'),
          synchronousIn('power-loss'),
          synchronousIn('process-crash'),
        ]),
        [
          ['process-crash', 2],
          ['power-loss', 2],
          ['process-crash', 2],
        ],
      );
      assert.deepEqual(await synchronousIn('process-crash'), ['process-crash', 1]);
      // A power-loss transaction arriving while a NORMAL group runs waits for a FULL one.
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const normal = db.transaction(async (session) => {
        await held;
        const [row] = await session.query('PRAGMA synchronous', []);
        return Number(row?.['synchronous']);
      }, 'process-crash');
      await new Promise((resolve) => setImmediate(resolve));
      const strict = synchronousIn('power-loss');
      release();
      assert.equal(await normal, 1);
      assert.deepEqual(await strict, ['power-loss', 2]);
    });
  });

  void test('a group holds at most LIMITS.sqliteGroupCommitMaxTransactions; more are committed after', async () => {
    await withDatabase(async (db, path) => {
      const count = LIMITS.sqliteGroupCommitMaxTransactions * 2 + 3;
      await Promise.all(Array.from({ length: count }, (_, index) => db.transaction(insert(`n${index}`))));
      assert.equal(committedNames(path).length, count);
    });
  });

  void test('a checkpoint asked for while transactions keep arriving still runs', async () => {
    await withDatabase(async (db) => {
      let stop = false;
      let written = 0;
      const writers = Array.from({ length: 4 }, async (_, writer) => {
        while (!stop) await db.transaction(insert(`w${writer}-${written++}`));
      });
      await db.discardSupersededPages();
      stop = true;
      await Promise.all(writers);
      assert.ok(written > 0);
    });
  });
});

function outcome<T>(settled: PromiseSettledResult<T> | undefined): PromiseSettledResult<T> {
  assert.ok(settled !== undefined);
  return settled;
}
