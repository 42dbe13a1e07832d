/**
 * Feedback from `qnabot-stream chat` (`/good`, `/bad [comment]`): the WebSocket `feedback`
 * action on the chat's own socket, and the reply the server posts to it (functions/shared/feedback.ts:
 * an ack of type `feedback`, or an `error` naming the answer as `feedbackRequestId`).
 */
import type WebSocket from "ws";
import type { Feedback } from "../functions/shared/feedback";
import { CliError, EXIT } from "./exit-codes";

export type FeedbackReply = { accepted: true; replaced: boolean } | { accepted: false; code: string; message: string };

/** The reply to feedback on `requestId` in one frame; undefined for any other frame. */
export function feedbackReplyOf(text: string, requestId: string): FeedbackReply | undefined {
  let frame: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    frame = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (frame.type === "feedback" && frame.requestId === requestId) return { accepted: true, replaced: frame.replaced === true };
  if (frame.type === "error" && frame.feedbackRequestId === requestId) {
    return { accepted: false, code: String(frame.code), message: String(frame.message) };
  }
  return undefined;
}

/** Sends the feedback and resolves with the server's reply; a CliError when none comes within `timeoutMs` or the socket closes. */
export function sendFeedback(socket: WebSocket, feedback: Feedback, timeoutMs: number): Promise<FeedbackReply> {
  return new Promise((resolve, reject) => {
    const done = (settle: () => void) => {
      clearTimeout(timer);
      socket.off("message", onMessage);
      socket.off("close", onClose);
      settle();
    };
    const onMessage = (data: WebSocket.RawData) => {
      const reply = feedbackReplyOf(data.toString(), feedback.requestId);
      if (reply) done(() => resolve(reply));
    };
    const onClose = () => done(() => reject(new CliError(EXIT.network, "the connection closed before the feedback was confirmed")));
    const timer = setTimeout(() => done(() => reject(new CliError(EXIT.network, `no reply to the feedback within ${timeoutMs} ms`))), timeoutMs);
    socket.on("message", onMessage);
    socket.once("close", onClose);
    socket.send(JSON.stringify({ action: "feedback", ...feedback }));
  });
}

/** The line `/good` or `/bad` prints. */
export function feedbackLine(rating: Feedback["rating"], reply: FeedbackReply): string {
  if (!reply.accepted) return `feedback not recorded: ${reply.message}`;
  return `feedback recorded: ${rating === "up" ? "good" : "bad"}${reply.replaced ? " (replaces your earlier rating of this answer)" : ""}`;
}
