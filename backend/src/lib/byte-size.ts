/**
 * About how many bytes of V8's heap a value holds, for caches bounded in bytes: V8's layouts on 64-bit Node (no
 * pointer compression). Every object pays a header and a slot per field, an array its backing store, a string its
 * characters (two bytes each unless all are Latin-1) rounded to 8, a number outside the small-integer range a heap
 * number, a typed array its buffer and the objects around it. Shared structure is counted wherever it is reached, and
 * cycles are not expected (the caches hold parsed JSON-like data). Checked against `--expose-gc` heap readings for a
 * 1,000-user account by bench/cache-sizes.ts (figures in the README's Performance section).
 */

/** A heap object's header (map, properties, elements pointers) and a field or element slot. */
const OBJECT_HEADER = 24;
const SLOT = 8;
/** A JSArray (header and length) and its FixedArray's header. */
const ARRAY_HEADER = 32 + 16;
/** A sequential string's map, hash and length. */
const STRING_HEADER = 16;
const HEAP_NUMBER = 16;
/** A typed array's JSTypedArray, its JSArrayBuffer and the buffer's backing-store record. */
const TYPED_ARRAY_OVERHEAD = 240;
/** A Map's or Set's object and hash-table header; one entry's slots (key, value, chain link) and its bucket. */
const TABLE_HEADER = 64;
const TABLE_ENTRY = 3 * SLOT + SLOT / 2;

const roundUp8 = (bytes: number) => Math.ceil(bytes / 8) * 8;

// eslint-disable-next-line no-control-regex -- the Latin-1 range is exactly what V8 stores one byte per character
const TWO_BYTE = /[^\u0000-\u00ff]/;

export function stringBytes(text: string): number {
  return STRING_HEADER + roundUp8(text.length * (TWO_BYTE.test(text) ? 2 : 1));
}

export function approximateBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return stringBytes(value);
    case 'number':
      // A small integer lives in its slot; anything else is a heap number of its own.
      return Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? 0 : HEAP_NUMBER;
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
    let bytes = ARRAY_HEADER + value.length * SLOT;
    for (const item of value as unknown[]) bytes += approximateBytes(item);
    return bytes;
  }
  if (value instanceof Map) {
    let bytes = TABLE_HEADER + value.size * TABLE_ENTRY;
    for (const [key, item] of value as Map<unknown, unknown>) bytes += approximateBytes(key) + approximateBytes(item);
    return bytes;
  }
  if (value instanceof Set) {
    let bytes = TABLE_HEADER + value.size * TABLE_ENTRY;
    for (const item of value as Set<unknown>) bytes += approximateBytes(item);
    return bytes;
  }
  if (value instanceof Date) return OBJECT_HEADER + SLOT + HEAP_NUMBER;
  let bytes = OBJECT_HEADER;
  // Property names of plain data are shared (V8 interns them), so only the slots and the values count.
  for (const item of Object.values(value)) bytes += SLOT + approximateBytes(item);
  return bytes;
}
