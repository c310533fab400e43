// Reads a Parquet file with two independent readers and prints what each one saw as JSON:
//
//   node check.mjs FILE
//   { "file": FILE,
//     "readers": {
//       "hyparquet":    { "schema": [...], "rows": [[...], ...], "metadata": {...} } | { "error": "..." },
//       "parquet-wasm": { "schema": [...], "rows": [[...], ...], "metadata": {...} } | { "error": "..." } } }
//
// hyparquet is a pure JavaScript reader (with hyparquet-compressors for gzip); parquet-wasm is the Rust
// arrow-rs/parquet crate compiled to WebAssembly, whose Arrow IPC output apache-arrow decodes.
//
// Rows are arrays in schema order. Values keep their JavaScript types so the caller can check them:
//   null -> null; boolean -> true/false; string -> "..."; bigint (INT64) -> "123" (a JSON string);
//   number -> a JSON number, except NaN, Infinity, -Infinity and -0, which become the strings
//   "NaN", "Infinity", "-Infinity" and "-0". JavaScript prints numbers in the shortest form that
//   round-trips, so parsing them back gives the exact double.
import { readFile } from 'node:fs/promises'
import { parquetMetadata, parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { Compression, Encoding, ParquetFile, readParquet } from 'parquet-wasm/node'
import { tableFromIPC } from 'apache-arrow'

function value(v) {
  if (v === null || v === undefined) return null
  switch (typeof v) {
    case 'bigint': return v.toString()
    case 'number':
      if (Number.isNaN(v)) return 'NaN'
      if (v === Infinity) return 'Infinity'
      if (v === -Infinity) return '-Infinity'
      if (Object.is(v, -0)) return '-0'
      return v
    case 'boolean':
    case 'string':
      return v
    default:
      throw new Error(`unexpected ${typeof v} value: ${String(v)}`)
  }
}

function errorOf(e) {
  return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }
}

async function withHyparquet(bytes) {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  const metadata = parquetMetadata(file)
  const leaves = metadata.schema.slice(1)
  const objects = await parquetReadObjects({ file, metadata, compressors })
  return {
    schema: leaves.map(e => ({
      name: e.name,
      type: e.type,
      repetition: e.repetition_type,
      convertedType: e.converted_type ?? null,
      logicalType: e.logical_type?.type ?? null,
    })),
    rows: objects.map(o => leaves.map(e => value(o[e.name]))),
    metadata: {
      version: metadata.version,
      numRows: value(metadata.num_rows),
      createdBy: metadata.created_by ?? null,
      keyValueMetadata: Object.fromEntries((metadata.key_value_metadata ?? []).map(kv => [kv.key, kv.value ?? null])),
      rowGroups: metadata.row_groups.map(g => ({
        numRows: value(g.num_rows),
        columns: g.columns.map(c => {
          const m = c.meta_data
          const s = m.statistics ?? {}
          return {
            path: m.path_in_schema,
            type: m.type,
            codec: m.codec,
            encodings: m.encodings,
            numValues: value(m.num_values),
            nullCount: value(s.null_count),
            min: value(s.min_value),
            max: value(s.max_value),
          }
        }),
      })),
    },
  }
}

async function withParquetWasm(bytes) {
  const table = tableFromIPC(readParquet(bytes).intoIPCStream())
  const fields = table.schema.fields
  const columns = fields.map((_, i) => table.getChildAt(i))
  const rows = []
  for (let r = 0; r < table.numRows; r++) {
    rows.push(columns.map(c => value(c.get(r))))
  }

  const file = await ParquetFile.fromFile(new Blob([bytes]))
  const meta = file.metadata()
  const fileMeta = meta.fileMetadata()
  return {
    schema: fields.map(f => ({ name: f.name, type: String(f.type), nullable: f.nullable })),
    rows,
    metadata: {
      version: fileMeta.version(),
      numRows: fileMeta.numRows(),
      createdBy: fileMeta.createdBy() ?? null,
      keyValueMetadata: Object.fromEntries(fileMeta.keyValueMetadata()),
      rowGroups: meta.rowGroups().map(g => ({
        numRows: g.numRows(),
        columns: g.columns().map(c => ({
          path: c.columnPath(),
          codec: Compression[c.compression()],
          encodings: c.encodings().map(e => Encoding[e]),
          numValues: c.numValues(),
        })),
      })),
    },
  }
}

const path = process.argv[2]
if (!path) {
  console.error('usage: node check.mjs FILE')
  process.exit(2)
}

const bytes = new Uint8Array(await readFile(path))
const readers = {}
for (const [name, read] of [['hyparquet', withHyparquet], ['parquet-wasm', withParquetWasm]]) {
  try {
    readers[name] = await read(bytes)
  } catch (e) {
    readers[name] = errorOf(e)
  }
}

process.stdout.write(JSON.stringify({ file: path, readers }) + '\n')
