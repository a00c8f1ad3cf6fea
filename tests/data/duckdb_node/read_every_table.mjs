// Opens a DuckDB file read-only with the official Node client (@duckdb/node-api) and counts
// the rows of every table and view in it; prints {"version", "counts": {name: rows}} as JSON.
// Usage: node read_every_table.mjs FILE
import { DuckDBInstance, version } from '@duckdb/node-api';

const [file] = process.argv.slice(2);
const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
const connection = await instance.connect();
const names = await connection.runAndReadAll(
  'SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()');
const counts = {};
for (const [name] of names.getRows()) {
  const quoted = '"' + name.replaceAll('"', '""') + '"';
  const result = await connection.runAndReadAll(`SELECT count(*) FROM ${quoted}`);
  counts[name] = Number(result.getRows()[0][0]);
}
connection.closeSync();
instance.closeSync();
console.log(JSON.stringify({ version: version(), counts }));
