/**
 * SQLite triggers that make a table append-only: each named statement on `table` aborts with
 * "<table> is append-only". The SQLite counterpart of PostgreSQL's `refuseEditsSql`, so every
 * append-only table is refused the same way, whatever file it lives in.
 */
export function refuseEditsSqlite(table: string, statements: ReadonlyArray<'UPDATE' | 'DELETE'> = ['UPDATE', 'DELETE']): string {
  if (!/^[a-z_]+$/.test(table)) throw new TypeError(`"${table}" is not a table name`);
  return statements
    .map(
      (statement) => `CREATE TRIGGER IF NOT EXISTS ${table}_no_${statement.toLowerCase()} BEFORE ${statement} ON ${table}
  BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END;`,
    )
    .join('\n');
}
