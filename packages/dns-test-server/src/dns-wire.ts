/**
 * The DNS wire format of the embedded DNS server's responses (RFC 1035):
 * header flags, the question echoed byte for byte, answers whose owner
 * name is compressed to a pointer, truncation to a size limit, EDNS0.
 * Records themselves are encoded by dns-packet.
 */
import * as packet from "dns-packet";

/** Largest UDP response to a query without EDNS0 (RFC 1035, 4.2.1). */
export const CLASSIC_UDP_LIMIT = 512;
/** Largest DNS message over TCP: its length prefix is 16 bits (RFC 1035, 4.2.2). */
export const TCP_LIMIT = 65535;
/**
 * The EDNS0 OPT record of responses to queries that had one (RFC 6891, 6.1.2):
 * root owner, type 41, UDP payload size 1232 (DNS flag day 2020) in the class
 * field, version 0, no flags, no options.
 */
const OPT_RECORD = Buffer.from([0, 0, 41, 1232 >> 8, 1232 & 0xff, 0, 0, 0, 0, 0, 0]);
/** Response codes (RFC 1035, 4.1.1). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
/** Header flag bits (RFC 1035, 4.1.1). */
const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
/** A compression pointer to offset 12, where the (only) question's name starts (RFC 1035, 4.1.4). */
const QUESTION_NAME_POINTER = Buffer.from([0xc0, 0x0c]);

/**
 * Assembles a response: the query's header fields and its question echoed
 * byte for byte, the answers with their owner name compressed to a pointer
 * to the question's name, then the additional records, then an OPT record
 * if the query had one.
 */
export class ResponseBuilder {
  private readonly answers: Buffer[] = [];
  private readonly additionals: Buffer[] = [];

  /**
   * @param query the query message.
   * @param questionEnd where its question ends (see {@link endOfQuestion}).
   * @param edns whether the query had an OPT record.
   */
  constructor(
    private readonly query: Buffer,
    private readonly questionEnd: number,
    private readonly edns: boolean,
  ) {}

  /** Adds an answer whose owner is the question's name (`name` is ignored). */
  answer(record: packet.Answer): void {
    // Encoded with the root as owner (one zero byte), which the pointer replaces.
    const encoded = packet.encode({ answers: [{ ...record, name: "." }] }).subarray(12 + 1);
    this.answers.push(Buffer.concat([QUESTION_NAME_POINTER, encoded]));
  }

  /** Adds an additional record (glue). */
  additional(record: packet.Answer): void {
    this.additionals.push(packet.encode({ answers: [record] }).subarray(12));
  }

  /**
   * The response with `rcode`, at most `limit` bytes: when the answers do
   * not all fit, the TC bit is set and only those that fit are sent (RFC
   * 2181, 9); additional records that do not fit are left out without TC.
   */
  build(rcode: number, limit: number): Buffer {
    const opt = this.edns ? OPT_RECORD : undefined;
    let size = this.questionEnd + (opt?.length ?? 0);
    const answers = fitting(this.answers, limit - size);
    size += byteLength(answers);
    const truncated = answers.length < this.answers.length;
    const additionals = truncated ? [] : fitting(this.additionals, limit - size);
    if (opt) additionals.push(opt);

    const header = Buffer.alloc(12);
    header.writeUInt16BE(this.query.readUInt16BE(0), 0); // id
    const queryFlags = this.query.readUInt16BE(2);
    const authoritative = rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN;
    header.writeUInt16BE(
      QR |
        (queryFlags & 0x7800) |
        (authoritative ? AA : 0) |
        (truncated ? TC : 0) |
        (queryFlags & RD) |
        rcode,
      2,
    );
    header.writeUInt16BE(1, 4); // questions
    header.writeUInt16BE(answers.length, 6);
    header.writeUInt16BE(0, 8); // authorities
    header.writeUInt16BE(additionals.length, 10);
    return Buffer.concat([header, this.query.subarray(12, this.questionEnd), ...answers, ...additionals]);
  }
}

/** The leading records of `records` that fit in `room` bytes. */
function fitting(records: Buffer[], room: number): Buffer[] {
  const fit: Buffer[] = [];
  for (const r of records) {
    if (r.length > room) break;
    fit.push(r);
    room -= r.length;
  }
  return fit;
}

function byteLength(buffers: Buffer[]): number {
  let n = 0;
  for (const b of buffers) n += b.length;
  return n;
}

/** The opcode of a message's header (0: a standard query). */
export function opcodeOf(message: Buffer): number {
  return (message.readUInt16BE(2) >> 11) & 0xf;
}

/**
 * Where the first question of a message ends: after its name (labels up
 * to a zero byte, or a compression pointer), type and class. Undefined if
 * the message is too short.
 */
export function endOfQuestion(message: Buffer): number | undefined {
  let offset = 12;
  for (;;) {
    const length = message[offset];
    if (length === undefined) return undefined;
    if ((length & 0xc0) === 0xc0) {
      offset += 2;
      break;
    }
    offset += 1 + length;
    if (length === 0) break;
  }
  offset += 4;
  return offset <= message.length ? offset : undefined;
}
