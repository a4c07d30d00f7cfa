/**
 * Plain data with typed arrays in it, as bytes for a message system (a NATS stage host's
 * start-up data, commands and reports): the structure as a short JSON text, every typed array as
 * its own bytes after it, never as JSON numbers. And a message of any size as frames no larger
 * than a server's limit, put back together on the other side.
 *
 *   encoded: [u32 text length][JSON text, typed arrays as {"$a": kind, "o": offset, "n": length}][pad to 8][array bytes…]
 *   frame:   [u32 sender][u32 message][u32 part][u32 parts][a slice of the encoded message]
 */
const ARRAYS = { Float32Array, Float64Array, Int32Array, Uint32Array, Uint8Array, Int8Array, Int16Array, Uint16Array } as const;
type ArrayKind = keyof typeof ARRAYS;
type AnyTyped = InstanceType<(typeof ARRAYS)[ArrayKind]>;

const encoder = new TextEncoder(),
  decoder = new TextDecoder();
const align8 = (n: number) => (n + 7) & ~7;

/** `value` as bytes: JSON for the structure, raw bytes for every typed array; Maps, Sets and non-finite numbers kept. */
export function encodeValue(value: unknown): Uint8Array {
  const arrays: AnyTyped[] = [];
  let offset = 0;
  const text = JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (typeof v === 'number' && !Number.isFinite(v)) return { $n: String(v) };
    if (v instanceof Map) return { $m: [...v.entries()] };
    if (v instanceof Set) return { $s: [...v] };
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const kind = v.constructor.name as ArrayKind;
      if (!(kind in ARRAYS)) throw new TypeError(`wire: cannot send a ${kind}`);
      const a = v as AnyTyped,
        at = offset;
      arrays.push(a);
      offset = align8(offset + a.byteLength);
      return { $a: kind, o: at, n: a.length };
    }
    return v;
  });
  const head = encoder.encode(text ?? 'null'),
    start = align8(4 + head.length);
  const out = new Uint8Array(start + offset);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  let at = start;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at = align8(at + a.byteLength);
  }
  return out;
}

/** What {@link encodeValue} made, back (typed arrays in buffers of their own). */
export function decodeValue<T = unknown>(bytes: Uint8Array): T {
  if (bytes.length < 4) throw new RangeError(`wire: a message of ${bytes.length} bytes has no header`);
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + length > bytes.length)
    throw new RangeError(`wire: the header says ${length} bytes of text, the message holds ${bytes.length - 4}`);
  const start = align8(4 + length);
  return JSON.parse(decoder.decode(bytes.subarray(4, 4 + length)), (_key, v: unknown) => {
    if (v === null || typeof v !== 'object') return v;
    const o = v as { $a?: ArrayKind; o: number; n: number; $n?: string; $m?: [unknown, unknown][]; $s?: unknown[] };
    if (o.$n !== undefined) return Number(o.$n);
    if (o.$m !== undefined) return new Map(o.$m);
    if (o.$s !== undefined) return new Set(o.$s);
    if (o.$a === undefined) return v;
    const Kind = ARRAYS[o.$a];
    if (!Kind) throw new TypeError(`wire: unknown array kind '${o.$a}'`);
    const from = bytes.byteOffset + start + o.o,
      size = o.n * Kind.BYTES_PER_ELEMENT;
    if (start + o.o + size > bytes.length) throw new RangeError(`wire: a ${o.$a} of ${o.n} runs past the message's end`);
    return new Kind(bytes.buffer.slice(from, from + size) as ArrayBuffer);
  }) as T;
}

/** Bytes of a frame's header. */
export const FRAME_HEADER = 16;

/**
 * `message` as frames of at most `max` bytes each (header included), numbered `id` from `sender`.
 *
 * @example
 * for (const f of framesOf(encodeValue(report), 3, ++sent, nc.info.max_payload)) nc.publish(subject, f);
 */
export function framesOf(message: Uint8Array, sender: number, id: number, max: number): Uint8Array[] {
  const room = max - FRAME_HEADER;
  if (room < 1) throw new RangeError(`wire: a frame limit of ${max} bytes leaves no room after the ${FRAME_HEADER}-byte header`);
  const parts = Math.max(1, Math.ceil(message.length / room));
  return Array.from({ length: parts }, (_, part) => {
    const slice = message.subarray(part * room, Math.min(message.length, (part + 1) * room));
    const f = new Uint8Array(FRAME_HEADER + slice.length),
      h = new DataView(f.buffer);
    h.setUint32(0, sender, true);
    h.setUint32(4, id, true);
    h.setUint32(8, part, true);
    h.setUint32(12, parts, true);
    f.set(slice, FRAME_HEADER);
    return f;
  });
}

/**
 * Puts frames back together: each sender's frames arrive in the order it sent them (a message
 * system keeps one publisher's order), but senders' frames may interleave. A frame out of
 * sequence is an error that says which sender and message.
 */
export class Reassembler {
  private readonly partial = new Map<number, { id: number; parts: Uint8Array[]; count: number }>();

  /** Take a frame; the whole message once its last frame is in, else null. */
  take(frame: Uint8Array): { sender: number; message: Uint8Array } | null {
    if (frame.length < FRAME_HEADER) throw new RangeError(`wire: a frame of ${frame.length} bytes is shorter than its header`);
    const h = new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER);
    const sender = h.getUint32(0, true),
      id = h.getUint32(4, true),
      part = h.getUint32(8, true),
      parts = h.getUint32(12, true);
    const body = frame.subarray(FRAME_HEADER);
    if (parts === 1 && part === 0) return { sender, message: body };
    let p = this.partial.get(sender);
    if (part === 0) this.partial.set(sender, (p = { id, parts: [], count: parts }));
    if (!p || p.id !== id || p.parts.length !== part || p.count !== parts) {
      this.partial.delete(sender);
      throw new Error(
        `wire: frame ${part + 1} of ${parts} of message ${id} from sender ${sender} arrived out of sequence (frames were lost)`,
      );
    }
    // a copy: the frame may be a view into the client's socket buffer, which it reuses
    p.parts.push(new Uint8Array(body));
    if (p.parts.length < parts) return null;
    this.partial.delete(sender);
    const total = p.parts.reduce((n, b) => n + b.length, 0),
      message = new Uint8Array(total);
    let at = 0;
    for (const b of p.parts) (message.set(b, at), (at += b.length));
    return { sender, message };
  }
}
