// The binary test-case streams that the C test drivers read and write (test/support/case_io.h):
// cases in, results out, all little-endian int32 words and arrays padded to 4 bytes.

export type IntArray = Int8Array | Int16Array | Uint16Array | Int32Array;

/** Writes cases: an op code, the payload length, the payload; `finish` adds the end marker. */
export class CaseWriter {
  private readonly chunks: Buffer[] = [];
  private payload: Buffer[] = [];
  private currentOp: number | undefined;

  /** Starts a case; its payload is what the calls up to the next `begin` or `finish` write. */
  begin(op: number): this {
    this.flushCase();
    this.payload = [];
    this.currentOp = op;
    return this;
  }

  i32(...values: number[]): this {
    const b = Buffer.alloc(4 * values.length);
    values.forEach((v, i) => b.writeInt32LE(v, 4 * i));
    this.payload.push(b);
    return this;
  }

  /** An array: its element count, then its bytes padded to a multiple of 4. */
  array(data: IntArray): this {
    this.i32(data.length);
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.payload.push(Buffer.from(bytes), Buffer.alloc((4 - (bytes.length % 4)) % 4));
    return this;
  }

  finish(): Buffer {
    this.flushCase();
    const end = Buffer.alloc(4);
    return Buffer.concat([...this.chunks, end]);
  }

  private flushCase(): void {
    if (this.currentOp === undefined) return;
    const body = Buffer.concat(this.payload);
    const head = Buffer.alloc(8);
    head.writeInt32LE(this.currentOp, 0);
    head.writeInt32LE(body.length, 4);
    this.chunks.push(head, body);
    this.currentOp = undefined;
  }
}

/** Reads the results: each a length in bytes and the bytes. */
export class ResultReader {
  private position = 0;

  constructor(private readonly data: Buffer) {}

  /** The next result, as elements of the type of `like`. */
  next<T extends IntArray>(like: T): T {
    if (this.position + 4 > this.data.length)
      throw new Error(`the driver wrote fewer results than expected (${this.data.length} bytes)`);
    const bytes = this.data.readInt32LE(this.position);
    this.position += 4;
    const slice = this.data.subarray(this.position, this.position + bytes);
    this.position += bytes;
    if (slice.length !== bytes) throw new Error('the driver output ends in the middle of a result');
    const copy = new Uint8Array(slice).buffer;
    const ctor = like.constructor as new (buffer: ArrayBuffer) => T;
    return new ctor(copy);
  }

  get done(): boolean {
    return this.position === this.data.length;
  }
}
