/** What the page's status line and an answer's footer say. Pure, for the page and the CLI. */
import type { Answer, Conversation } from "./conversation";
import type { ConnectionSnapshot } from "./connection";

export type PageState = "connecting" | "ready" | "streaming" | "done" | "error";

export interface PageStatus {
  state: PageState;
  text: string;
}

function seconds(ms: number): string {
  return `${Math.max(1, Math.ceil(ms / 1000))} s`;
}

/**
 * The latest answer's state while connected; the connection's otherwise. An answer that
 * ended before the current socket opened (cut by a drop, or failed before a reconnect), or
 * that a drop cut off for good, is history: its turn still shows what happened, the status
 * line says the page is Ready.
 */
export function pageStatus(connection: ConnectionSnapshot, conversation: Conversation, now: number): PageStatus {
  const latestId = conversation.order[conversation.order.length - 1];
  const latest = latestId === undefined ? undefined : conversation.answers[latestId];
  if (latest && (latest.status === "pending" || latest.status === "streaming")) {
    if (connection.status === "waiting") {
      const retry = connection.retryAt === undefined ? "" : ` Retrying in ${seconds(connection.retryAt - now)} to resume the answer;`;
      return { state: "connecting", text: `Connection lost: ${connection.lastError ?? "disconnected"}.${retry} Stop keeps what arrived.` };
    }
    if (connection.status !== "ready") return { state: "connecting", text: "Connection lost: reconnecting to resume the answer…" };
    if (latest.stopRequested) return { state: "streaming", text: "Stopping the answer…" };
    return { state: "streaming", text: latest.status === "pending" ? "Waiting for the answer…" : "Streaming the answer…" };
  }
  switch (connection.status) {
    case "idle":
    case "connecting":
      return { state: "connecting", text: connection.opened > 0 ? "Reconnecting…" : "Connecting…" };
    case "waiting": {
      const retry = connection.retryAt === undefined ? "" : ` Retrying in ${seconds(connection.retryAt - now)}.`;
      return { state: "error", text: `${connection.lastError ?? "Disconnected"}.${retry}` };
    }
    case "stopped":
      return { state: "error", text: "Disconnected." };
    case "failed":
      return { state: "error", text: `${connection.lastError ?? "The server refused a new connection"}. Reload the page to continue.` };
    case "ready":
      if (latest?.finishedAt !== undefined && connection.readyAt !== undefined && latest.finishedAt <= connection.readyAt) {
        return { state: "ready", text: "Ready." };
      }
      // An answer the drop cut off (not resumable) shows its own message; the new connection is ready.
      if (latest?.status === "error" && latest.error?.code !== "connection_lost") {
        return { state: "error", text: `Error: ${latest.error?.message ?? "the answer failed"}` };
      }
      if (latest?.status === "done") return { state: "done", text: latest.stopReason === "cancelled" ? "Stopped." : "Done." };
      return { state: "ready", text: "Ready." };
  }
}

export interface AnswerStats {
  /** Client-measured time from asking to the first streamed text. */
  ttftMs?: number;
  tokensPerSecond?: number;
  charsPerSecond?: number;
}

/**
 * Rates are over the generation window (first delta to end), so they describe the model's
 * pace, not the wait before it; tokens when the server reported usage, characters otherwise.
 */
export function answerStats(answer: Answer, now: number): AnswerStats {
  const stats: AnswerStats = {};
  if (answer.firstDeltaAt === undefined) return stats;
  stats.ttftMs = answer.firstDeltaAt - answer.askedAt;
  const windowMs = (answer.finishedAt ?? now) - answer.firstDeltaAt;
  if (windowMs <= 0) return stats;
  const outputTokens = answer.usage?.outputTokens;
  if (answer.status === "done" && typeof outputTokens === "number" && outputTokens > 0) {
    stats.tokensPerSecond = (outputTokens * 1000) / windowMs;
  } else {
    stats.charsPerSecond = (answer.text.length * 1000) / windowMs;
  }
  return stats;
}

export function formatStats(stats: AnswerStats): string {
  const parts: string[] = [];
  if (stats.ttftMs !== undefined) parts.push(`first token ${Math.round(stats.ttftMs)} ms`);
  if (stats.tokensPerSecond !== undefined) parts.push(`${stats.tokensPerSecond.toFixed(1)} tokens/s`);
  else if (stats.charsPerSecond !== undefined) parts.push(`${Math.round(stats.charsPerSecond)} chars/s`);
  return parts.join(" · ");
}
