/** One build of the chat page per test run, shared by every file that serves it. */
import { buildChatPage, type ChatPage } from "../../../client/web/build";

let page: Promise<ChatPage> | undefined;

export function chatPage(): Promise<ChatPage> {
  page ??= buildChatPage();
  return page;
}
