// smtp.ts — the SMTP command-stream watcher of the WebSocket relay. It sits between the
// bridge client and mxgate, sees both byte streams, and decides what of the client's
// stream may go on to the origin. It performs no I/O: the relay (relay.ts) hands it bytes
// and performs the actions it returns, in order (as mxgate's smtp::Session does).
//
// What it enforces at the edge, before anything reaches the origin:
//   - early talkers: any client byte before the origin's 220 greeting is refused
//     (554 5.5.1, close; nothing of it is forwarded);
//   - non-SMTP garbage: a command line with control octets, invalid UTF-8, a verb that is
//     not letters, an HTTP verb, a line over the length bound, or a malformed BDAT size
//     (554 5.5.1, close; the line is not forwarded);
//   - recipients per connection (421 4.7.0, close) and, through the relay's checks,
//     per-sender-domain limits and the sender blocklist (MAIL and RCPT are held until the
//     relay answers the check: then forwarded, answered locally, or 421 and close);
//   - STARTTLS is answered locally (454 4.7.0) and removed from EHLO replies: the client
//     already talks over TLS to the edge, and TLS inside the stream would blind the watcher.
//
// Following the stream (RFC 5321, RFC 2920 PIPELINING, RFC 3030 CHUNKING, RFC 4954 AUTH):
// client commands are lines ending in LF (a CR before it belongs to the line end — mxgate
// reads command lines the same way). The watcher keeps a queue of the replies it expects
// from the origin, one per forwarded command, and reads the origin's replies (multi-line
// "ddd-" ... "ddd "): DATA enters the data phase only on 354, AUTH's 334 makes the next
// client line a SASL response. Client input that arrives while the watcher waits for such
// a reply, or for a check, is held (bounded by maxHeldBytes: 421 and close beyond).
// Message content is not parsed, only scanned for its end: after DATA, exactly
// CR LF "." CR LF ends the data (at the very start of the data, "." CR LF), as in mxgate's
// DataScanner (src/smtp/data_scanner.h) — "\n.\n", "\r\n.\n" never do, so the watcher and
// the origin cannot disagree about where the data ends (SMTP smuggling); after
// "BDAT <n>", exactly n octets are data. Local replies (STARTTLS, a refused check) are
// queued behind the origin replies still due, so the client sees replies in command order.
//
// Trust: both streams are bytes; the client's are hostile (any length, any split, any
// content; the output does not depend on how the input is split). The origin's replies are
// trusted for their codes (it is mxgate), but bounded in length too.

export interface WatcherOptions {
  maxRecipients: number; // RCPT commands per connection; 0 = no limit
  checkSenders: boolean; // ask the relay about each MAIL and RCPT (limits, blocklist)
  maxCommandLine: number; // octets including the line end (mxgate: 512; the edge is laxer)
  maxAuthLine: number; // AUTH and SASL response lines (RFC 4954: 12288)
  maxHeldBytes: number; // client input held while waiting for a reply or a check
}

export const DEFAULT_WATCHER_OPTIONS: WatcherOptions = {
  maxRecipients: 100,
  checkSenders: true,
  maxCommandLine: 2048,
  maxAuthLine: 12288 + 2,
  maxHeldBytes: 256 * 1024,
};

export type SenderCheck =
  | { stage: "mail"; sender: string; domain: string }
  | { stage: "rcpt"; recipient: string; senderDomain: string | null };

export type CheckVerdict =
  | { kind: "allow" }
  | { kind: "refuse"; reply: string } // answered locally, not forwarded; the session goes on
  | { kind: "close"; reply: string }; // the reply, then close (a 421)

export type WatcherAction =
  | { kind: "toServer"; data: Uint8Array }
  | { kind: "toClient"; data: Uint8Array }
  | { kind: "check"; check: SenderCheck } // parks the client side until answer()
  | { kind: "close"; reason: string }; // close both sides (after the toClient before it)

export type Phase = "greeting" | "command" | "wait" | "data" | "bdat" | "sasl" | "parked" | "quit" | "closed";

type Expect = { kind: "greeting" | "ehlo" | "data" | "auth" | "other" | "quit" } | { kind: "local"; reply: Uint8Array };

export const REPLY = {
  earlyTalker: "554 5.5.1 Error: protocol violation: talked before the greeting",
  garbage: "554 5.5.1 Error: protocol violation: not an SMTP command",
  tooManyRecipients: "421 4.7.0 Error: too many recipients in this connection, try again later",
  heldTooMuch: "421 4.7.0 Error: too much pipelined input, try again later",
  noTls: "454 4.7.0 TLS not available: the WebSocket transport is already encrypted",
  badOrigin: "421 4.3.0 Error: bad reply from the origin, try again later",
} as const;

const HTTP_VERBS = new Set(["GET", "POST", "HEAD", "PUT", "DELETE", "CONNECT", "OPTIONS", "PATCH", "TRACE"]);
const MAX_SERVER_LINE = 64 * 1024;
const LF = 10;
const CR = 13;
const DOT = 46;
const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const latin1 = new TextDecoder("latin1");

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function line(text: string): Uint8Array {
  return encoder.encode(text + "\r\n");
}

// End-of-data scanner state (see the file comment; mirrors mxgate's DataScanner).
enum Scan {
  LineStart,
  Dot,
  DotCr,
  Mid,
  Cr,
}

// The path of "MAIL FROM:<path> ..." / "RCPT TO:<path> ..." (angle brackets optional), or null.
export function commandPath(args: string, keyword: "FROM" | "TO"): string | null {
  const m = new RegExp(`^\\s*${keyword}\\s*:\\s*(<[^>]*>|[^\\s]*)`, "i").exec(args);
  if (!m) return null;
  return m[1]!.replace(/^<|>$/g, "");
}

export class SmtpWatcher {
  private phase_: Phase = "greeting";
  private held: Uint8Array = new Uint8Array(0);
  private expects: Expect[] = [{ kind: "greeting" }];
  private scan = Scan.LineStart;
  private bdatLeft = 0;
  private recipients = 0;
  private senderDomain: string | null = null;
  private parked: { line: Uint8Array; check: SenderCheck } | null = null;
  private srvBuf: Uint8Array = new Uint8Array(0);
  private replyLines: Uint8Array[] = [];
  private out: WatcherAction[] = [];

  constructor(private readonly opts: WatcherOptions = DEFAULT_WATCHER_OPTIONS) {}

  get phase(): Phase {
    return this.phase_;
  }
  get heldBytes(): number {
    return this.held.length;
  }

  // Client → origin bytes.
  client(bytes: Uint8Array): WatcherAction[] {
    if (bytes.length === 0 || this.phase_ === "closed" || this.phase_ === "quit") return [];
    if (this.phase_ === "greeting") {
      // RFC 5321 3.1: the client waits for the greeting. Nothing of this goes on.
      this.closeWith(REPLY.earlyTalker, "early talker");
      return this.take();
    }
    this.held = concat(this.held, bytes);
    this.pump();
    return this.take();
  }

  // Origin → client bytes.
  server(bytes: Uint8Array): WatcherAction[] {
    if (this.phase_ === "closed") return [];
    this.srvBuf = concat(this.srvBuf, bytes);
    for (;;) {
      const lf = this.srvBuf.indexOf(LF);
      if (lf < 0) {
        if (this.srvBuf.length > MAX_SERVER_LINE) this.closeWith(REPLY.badOrigin, "origin reply line too long");
        break;
      }
      const l = this.srvBuf.subarray(0, lf + 1);
      this.srvBuf = this.srvBuf.subarray(lf + 1);
      this.replyLines.push(l);
      // "ddd-" continues a multi-line reply (RFC 5321 4.2.1); anything else ends it.
      if (!(l.length > 3 && l[3] === 0x2d)) {
        this.onReply(l);
        if ((this.phase_ as Phase) === "closed") break;
      }
    }
    return this.take();
  }

  // The relay's answer to the last "check" action.
  answer(v: CheckVerdict): WatcherAction[] {
    if (this.phase_ !== "parked" || !this.parked) return [];
    const { line: l, check } = this.parked;
    this.parked = null;
    this.phase_ = "command";
    if (v.kind === "allow") {
      if (check.stage === "mail") this.senderDomain = check.domain;
      this.forward(l, { kind: "other" });
    } else if (v.kind === "refuse") {
      if (check.stage === "mail") this.senderDomain = null;
      this.local(v.reply);
    } else {
      this.closeWith(v.reply, "limit");
      return this.take();
    }
    this.pump();
    return this.take();
  }

  private take(): WatcherAction[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  private closeWith(reply: string, reason: string): void {
    this.out.push({ kind: "toClient", data: line(reply) }, { kind: "close", reason });
    this.phase_ = "closed";
    this.held = new Uint8Array(0);
    this.parked = null;
  }

  private forward(data: Uint8Array, expect?: Expect): void {
    if (data.length > 0) this.out.push({ kind: "toServer", data });
    if (expect) this.expects.push(expect);
  }

  // A reply of the edge's own, in order behind the origin replies still due.
  private local(reply: string): void {
    if (this.expects.length === 0) this.out.push({ kind: "toClient", data: line(reply) });
    else this.expects.push({ kind: "local", reply: line(reply) });
  }

  private pump(): void {
    for (;;) {
      switch (this.phase_) {
        case "data": {
          const end = this.scanData(this.held);
          if (end < 0) {
            this.forward(this.held);
            this.held = new Uint8Array(0);
            return;
          }
          this.forward(this.held.subarray(0, end), { kind: "other" }); // the reply to the end of data
          this.held = this.held.subarray(end);
          this.phase_ = "command";
          continue;
        }
        case "bdat": {
          const n = Math.min(this.bdatLeft, this.held.length);
          this.forward(this.held.subarray(0, n));
          this.held = this.held.subarray(n);
          this.bdatLeft -= n;
          if (this.bdatLeft > 0) return;
          this.phase_ = "command";
          continue;
        }
        case "command":
        case "sasl": {
          const lf = this.held.indexOf(LF);
          const bound = Math.max(this.opts.maxCommandLine, this.opts.maxAuthLine);
          if (lf < 0) {
            // Refuse what can never become a command line as soon as it shows, not at its end.
            if (this.held.length >= bound) this.closeWith(REPLY.garbage, "line too long");
            else if (!plausiblePartialLine(this.held, this.phase_ === "command")) this.closeWith(REPLY.garbage, "not SMTP");
            return;
          }
          const l = this.held.slice(0, lf + 1);
          this.held = this.held.subarray(lf + 1);
          if (this.phase_ === "sasl") this.onSaslLine(l);
          else this.onCommandLine(l);
          continue;
        }
        case "wait":
        case "parked":
          if (this.held.length > this.opts.maxHeldBytes) this.closeWith(REPLY.heldTooMuch, "held too much");
          return;
        default:
          return;
      }
    }
  }

  // Returns the index just past CR LF "." CR LF, or -1 when `buf` ends inside the data.
  private scanData(buf: Uint8Array): number {
    let s = this.scan;
    let i = 0;
    const n = buf.length;
    while (i < n) {
      if (s === Scan.Mid) {
        // Only a CR can move on from inside a line: jump to it.
        const j = buf.indexOf(CR, i);
        if (j < 0) {
          i = n;
          break;
        }
        i = j + 1;
        s = Scan.Cr;
        continue;
      }
      const b = buf[i++]!;
      switch (s) {
        case Scan.LineStart:
          s = b === DOT ? Scan.Dot : b === CR ? Scan.Cr : Scan.Mid;
          break;
        case Scan.Dot:
          s = b === CR ? Scan.DotCr : Scan.Mid;
          break;
        case Scan.DotCr:
          if (b === LF) {
            this.scan = Scan.LineStart;
            return i;
          }
          s = b === CR ? Scan.Cr : Scan.Mid;
          break;
        case Scan.Cr:
          s = b === LF ? Scan.LineStart : b === CR ? Scan.Cr : Scan.Mid;
          break;
      }
    }
    this.scan = s;
    return -1;
  }

  // The line's text without its line end, or null when it is not SMTP text.
  private lineText(l: Uint8Array, asciiOnly: boolean): string | null {
    let end = l.length - 1; // the LF
    if (end > 0 && l[end - 1] === CR) end--;
    const body = l.subarray(0, end);
    let high = false;
    for (const b of body) {
      if ((b < 0x20 && b !== 0x09) || b === 0x7f) return null;
      if (b >= 0x80) high = true;
    }
    if (!high) return latin1.decode(body);
    if (asciiOnly) return null;
    try {
      return utf8.decode(body); // SMTPUTF8 (RFC 6531) addresses
    } catch {
      return null;
    }
  }

  private onSaslLine(l: Uint8Array): void {
    if (l.length > this.opts.maxAuthLine || this.lineText(l, true) === null) {
      this.closeWith(REPLY.garbage, "bad SASL response");
      return;
    }
    this.forward(l, { kind: "auth" });
    this.phase_ = "wait";
  }

  private onCommandLine(l: Uint8Array): void {
    const text = this.lineText(l, false);
    if (text === null) {
      this.closeWith(REPLY.garbage, "control octets or invalid UTF-8");
      return;
    }
    const sp = text.indexOf(" ");
    const verb = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
    const args = sp < 0 ? "" : text.slice(sp + 1);
    if (!/^[A-Z]{0,16}$/.test(verb) || HTTP_VERBS.has(verb)) {
      this.closeWith(REPLY.garbage, `not a command: ${JSON.stringify(verb.slice(0, 20))}`);
      return;
    }
    if (verb !== "AUTH" && l.length > this.opts.maxCommandLine) {
      this.closeWith(REPLY.garbage, "line too long");
      return;
    }
    switch (verb) {
      case "EHLO":
        this.senderDomain = null; // RFC 5321 4.1.4: EHLO resets the transaction
        this.forward(l, { kind: "ehlo" });
        return;
      case "HELO":
      case "RSET":
        this.senderDomain = null;
        this.forward(l, { kind: "other" });
        return;
      case "MAIL": {
        const sender = commandPath(args, "FROM");
        if (!this.opts.checkSenders || sender === null) {
          this.forward(l, { kind: "other" }); // a syntax error is mxgate's to answer
          return;
        }
        const at = sender.lastIndexOf("@");
        const domain = at < 0 ? "" : sender.slice(at + 1).toLowerCase().replace(/\.$/, "");
        this.park(l, { stage: "mail", sender, domain });
        return;
      }
      case "RCPT": {
        this.recipients++;
        if (this.opts.maxRecipients > 0 && this.recipients > this.opts.maxRecipients) {
          this.closeWith(REPLY.tooManyRecipients, "recipients per connection");
          return;
        }
        const recipient = commandPath(args, "TO");
        if (!this.opts.checkSenders || recipient === null) {
          this.forward(l, { kind: "other" });
          return;
        }
        this.park(l, { stage: "rcpt", recipient, senderDomain: this.senderDomain });
        return;
      }
      case "DATA":
        this.forward(l, { kind: "data" });
        this.phase_ = "wait";
        this.scan = Scan.LineStart;
        return;
      case "BDAT": {
        const m = /^(\d{1,15})(\s+LAST)?\s*$/i.exec(args);
        if (!m) {
          this.closeWith(REPLY.garbage, "bad BDAT size");
          return;
        }
        // RFC 3030 2: the chunk follows at once, whatever the origin answers.
        this.forward(l, { kind: "other" });
        this.bdatLeft = Number(m[1]);
        this.phase_ = "bdat";
        return;
      }
      case "AUTH":
        this.forward(l, { kind: "auth" });
        this.phase_ = "wait";
        return;
      case "STARTTLS":
        this.local(REPLY.noTls);
        return;
      case "QUIT":
        this.forward(l, { kind: "quit" });
        this.phase_ = "quit";
        this.held = new Uint8Array(0); // nothing after QUIT means anything
        return;
      default:
        // NOOP, VRFY, EXPN, HELP and unknown verbs: mxgate answers (and counts errors).
        this.forward(l, { kind: "other" });
        return;
    }
  }

  private park(l: Uint8Array, check: SenderCheck): void {
    this.parked = { line: l, check };
    this.phase_ = "parked";
    this.out.push({ kind: "check", check });
  }

  private onReply(last: Uint8Array): void {
    const lines = this.replyLines;
    this.replyLines = [];
    const code = latin1.decode(last.subarray(0, 3));
    const exp = this.expects.shift();
    let data: Uint8Array;
    if (exp?.kind === "ehlo" && code === "250") data = withoutStartTls(lines);
    else data = lines.reduce(concat, new Uint8Array(0));
    const wasWaiting = this.phase_ === "wait";
    switch (exp?.kind) {
      case "greeting":
        if (this.phase_ === "greeting") this.phase_ = code === "220" ? "command" : "quit";
        break;
      case "data":
        if (wasWaiting) this.phase_ = code === "354" ? "data" : "command";
        break;
      case "auth":
        if (wasWaiting) this.phase_ = code === "334" ? "sasl" : "command";
        break;
      default:
        break;
    }
    this.out.push({ kind: "toClient", data });
    while (this.expects[0]?.kind === "local") {
      const e = this.expects.shift() as { kind: "local"; reply: Uint8Array };
      this.out.push({ kind: "toClient", data: e.reply });
    }
    if (wasWaiting && this.phase_ !== "wait") this.pump();
  }
}

// False when a line that has not ended yet already cannot be a command line (or, with
// `verb` false, a SASL response): a control octet other than HTAB (and CR as the last
// octet), or a first word that is not letters.
function plausiblePartialLine(b: Uint8Array, verb: boolean): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if ((c < 0x20 && c !== 0x09 && !(c === CR && i === b.length - 1)) || c === 0x7f) return false;
  }
  if (!verb) return true;
  let n = 0;
  while (n < b.length && b[n] !== 0x20 && !(b[n] === CR && n === b.length - 1)) {
    const c = b[n]! | 0x20;
    if (c < 0x61 || c > 0x7a) return false;
    n++;
  }
  return n <= 16;
}

// An EHLO reply without its STARTTLS line (RFC 3207), the last line's separator fixed.
function withoutStartTls(lines: Uint8Array[]): Uint8Array {
  const kept = lines.filter((l, i) => i === 0 || latin1.decode(l.subarray(4)).trim().toUpperCase() !== "STARTTLS");
  if (kept.length < lines.length) {
    const last = kept[kept.length - 1]!.slice();
    if (last.length > 3) last[3] = 0x20; // "250-x" → "250 x"
    kept[kept.length - 1] = last;
  }
  return kept.reduce(concat, new Uint8Array(0));
}
