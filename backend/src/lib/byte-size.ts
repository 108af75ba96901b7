/**
 * About how many bytes of V8's heap a value holds, for caches bounded in bytes. It errs on the high side (a cache then
 * keeps a little less than it could, never more than its bound): every object pays a header and a slot per field, a
 * string its characters (two bytes each unless all are Latin-1), a typed array its buffer and the objects around it.
 * Shared structure is counted wherever it is reached, and cycles are not expected (the caches hold parsed JSON-like
 * data). Measured against `--expose-gc` heap readings for a 1,000-user account (notes/metrics.md).
 */

/** A heap object's header (map, properties, elements pointers) and a field or element slot, on 64-bit V8. */
const OBJECT_HEADER = 24;
const SLOT = 8;
const STRING_HEADER = 16;
/** A typed array's JSTypedArray, its JSArrayBuffer and the buffer's backing-store record. */
const TYPED_ARRAY_OVERHEAD = 160;
/** One entry of a Map or Set: its hash-table slots (key, value, chain link). */
const TABLE_ENTRY = 3 * SLOT;

// eslint-disable-next-line no-control-regex -- the Latin-1 range is exactly what V8 stores one byte per character
const TWO_BYTE = /[^\u0000-\u00ff]/;

export function stringBytes(text: string): number {
  return STRING_HEADER + text.length * (TWO_BYTE.test(text) ? 2 : 1);
}

export function approximateBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return stringBytes(value);
    case 'number':
      // A heap number when it is not a small integer; counted always, it is the safer side.
      return 16;
    case 'object':
      return value === null ? 0 : objectBytes(value);
    default:
      // Booleans, undefined, functions shared by all: only the slot holding them, which their container counts.
      return 0;
  }
}

function objectBytes(value: object): number {
  if (ArrayBuffer.isView(value)) return TYPED_ARRAY_OVERHEAD + value.byteLength;
  if (Array.isArray(value)) {
    let bytes = OBJECT_HEADER + OBJECT_HEADER + value.length * SLOT;
    for (const item of value as unknown[]) bytes += approximateBytes(item);
    return bytes;
  }
  if (value instanceof Map) {
    let bytes = OBJECT_HEADER * 2 + value.size * TABLE_ENTRY;
    for (const [key, item] of value as Map<unknown, unknown>) bytes += approximateBytes(key) + approximateBytes(item);
    return bytes;
  }
  if (value instanceof Set) {
    let bytes = OBJECT_HEADER * 2 + value.size * TABLE_ENTRY;
    for (const item of value as Set<unknown>) bytes += approximateBytes(item);
    return bytes;
  }
  if (value instanceof Date) return OBJECT_HEADER + SLOT;
  let bytes = OBJECT_HEADER;
  // Property names of plain data are shared (V8 interns them), so only the slots and the values count.
  for (const item of Object.values(value)) bytes += SLOT + approximateBytes(item);
  return bytes;
}
