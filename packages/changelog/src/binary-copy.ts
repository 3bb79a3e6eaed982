// Reading PostgreSQL's binary COPY format: the bytes PostgreSQL made, without decoding them into strings.

const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** The fields of the one row of a binary COPY (text columns come as their bytes); null for NULL. */
export function binaryCopyRow(data: Buffer): (Buffer | null)[] {
  if (!data.subarray(0, COPY_SIGNATURE.length).equals(COPY_SIGNATURE)) throw new Error('not a binary COPY stream');
  let at = COPY_SIGNATURE.length + 4; // then the flags
  at += 4 + data.readUInt32BE(at); // the header extension
  const count = data.readInt16BE(at);
  at += 2;
  const fields: (Buffer | null)[] = [];
  for (let i = 0; i < count; i++) {
    const length = data.readInt32BE(at);
    at += 4;
    if (length < 0) fields.push(null);
    else {
      fields.push(data.subarray(at, at + length));
      at += length;
    }
  }
  return fields;
}

/**
 * Whether a bigint[] in binary form (null: no rows) is in ascending order. The form: dimensions, a
 * null flag and the element type (4 bytes each), per dimension its size and lower bound, then each
 * element as a 4-byte length and 8 bytes.
 */
export function ascending(array: Buffer | null): boolean {
  if (array === null || array.readInt32BE(0) === 0) return true;
  const count = array.readInt32BE(12);
  let previous = -1n;
  for (let i = 0, at = 20 + 4; i < count; i++, at += 12) {
    const position = array.readBigInt64BE(at);
    if (position <= previous) return false;
    previous = position;
  }
  return true;
}
