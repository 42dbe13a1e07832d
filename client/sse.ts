/**
 * An incremental Server-Sent Events parser (WHATWG HTML, "Parsing an event stream"): feed
 * it decoded text as it arrives, in chunks cut anywhere; it returns the events each chunk
 * completed. Lines end with CRLF, LF or CR; `data` lines join with LF; a line starting with
 * ":" is a comment; an event is dispatched at a blank line and only when it has data.
 */
export interface SseEvent {
  /** `event:`, or "message" when the event named none. */
  event: string;
  data: string;
  /** `id:` of this event or the last one that had one (the stream's last event id). */
  id?: string;
}

export class SseParser {
  private buffer = "";
  /** The chunk ended on CR: a LF starting the next one belongs to that line end. */
  private skipLeadingLf = false;
  private eventType = "";
  private data: string[] = [];
  private lastEventId?: string;

  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.skipLeadingLf && text.startsWith("\n")) text = text.slice(1);
    this.skipLeadingLf = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      if (end < 0) break;
      const line = this.buffer.slice(0, end);
      let breakLength = 1;
      if (this.buffer[end] === "\r") {
        if (end + 1 === this.buffer.length) this.skipLeadingLf = true;
        else if (this.buffer[end + 1] === "\n") breakLength = 2;
      }
      this.buffer = this.buffer.slice(end + breakLength);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") {
      const data = this.data;
      const type = this.eventType;
      this.data = [];
      this.eventType = "";
      if (data.length === 0) return undefined;
      const event: SseEvent = { event: type || "message", data: data.join("\n") };
      if (this.lastEventId !== undefined) event.id = this.lastEventId;
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.eventType = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    return undefined;
  }
}
