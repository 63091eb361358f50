import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { refuseEditsSqlite } from '../src/sqlite-append-only.js';

describe('refuseEditsSqlite', () => {
  const open = (statements?: Array<'UPDATE' | 'DELETE'>) => {
    const db = new Database(':memory:');
    db.exec(`CREATE TABLE kept (id INTEGER PRIMARY KEY, v TEXT); ${refuseEditsSqlite('kept', statements)}`);
    db.prepare("INSERT INTO kept (v) VALUES ('a')").run();
    return db;
  };

  it('refuses UPDATE and DELETE by default and still appends', () => {
    const db = open();
    expect(() => db.prepare("UPDATE kept SET v = 'b'").run()).toThrow('kept is append-only');
    expect(() => db.prepare('DELETE FROM kept').run()).toThrow('kept is append-only');
    db.prepare("INSERT INTO kept (v) VALUES ('c')").run();
    expect(db.prepare('SELECT v FROM kept ORDER BY id').pluck().all()).toEqual(['a', 'c']);
  });

  it('refuses only the statements it is given', () => {
    const db = open(['DELETE']);
    expect(() => db.prepare('DELETE FROM kept').run()).toThrow('kept is append-only');
    db.prepare("UPDATE kept SET v = 'b'").run();
    expect(db.prepare('SELECT v FROM kept').pluck().get()).toBe('b');
  });

  it('is idempotent, so a schema that holds it can run on every open', () => {
    const db = open();
    expect(() => db.exec(refuseEditsSqlite('kept'))).not.toThrow();
  });

  it('refuses a table name it would have to quote', () => {
    expect(() => refuseEditsSqlite('kept; DROP TABLE kept')).toThrow(TypeError);
  });
});
