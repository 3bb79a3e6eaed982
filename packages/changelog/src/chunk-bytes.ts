// A log stream chunk's bytes in one buffer of its own, copied out of the stream's pieces as they arrive and
// freed the moment the chunk is written. The pieces (socket or decompressor buffers) are then garbage at
// once and go in the next scavenge. Kept as they came for as long as their chunk is applied, they outlive
// a few scavenges, are promoted, and wait for a full collection: memory the process keeps at its peak,
// since glibc does not hand a fragmented heap back.

/** The first chunk's room; later chunks start with the room the one before needed. */
const FIRST_CAPACITY = 256 * 1024;

/** Frees a buffer's memory now, not at a collection: its ArrayBuffer is detached (it must be the buffer's alone). */
function free(buffer: Buffer): void {
  const backing = buffer.buffer;
  if (backing instanceof ArrayBuffer && !backing.detached) backing.transfer(0);
}

export class ChunkBytes {
  #buffer: Buffer;
  #length = 0;

  constructor(capacity = FIRST_CAPACITY) {
    // allocUnsafeSlow: never a slice of Node's shared pool, so that freeing it frees nothing else.
    this.#buffer = Buffer.allocUnsafeSlow(Math.max(1, capacity));
  }

  get length(): number {
    return this.#length;
  }

  /** Room for a chunk like this one. */
  get capacity(): number {
    return this.#buffer.length;
  }

  append(data: Buffer): void {
    if (this.#length + data.length > this.#buffer.length) this.#grow(this.#length + data.length);
    data.copy(this.#buffer, this.#length);
    this.#length += data.length;
  }

  /** The bytes appended so far: valid until the next append, cut or release. */
  get bytes(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }

  /** Moves the bytes from `at` on to a new ChunkBytes (returned); this one keeps those before. */
  cut(at: number): ChunkBytes {
    const rest = new ChunkBytes(Math.max(this.#buffer.length, this.#length - at));
    rest.append(this.#buffer.subarray(at, this.#length));
    this.#length = at;
    return rest;
  }

  /** Frees the memory; `bytes` read before are empty after. */
  release(): void {
    free(this.#buffer);
    this.#length = 0;
  }

  #grow(needed: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(needed, this.#buffer.length * 2));
    this.#buffer.copy(next, 0, 0, this.#length);
    free(this.#buffer);
    this.#buffer = next;
  }
}
