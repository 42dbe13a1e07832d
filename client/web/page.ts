import { MAX_QUESTION_CHARS } from "../../functions/shared/protocol";

/** The chat page's markup. Asset and API paths are relative, so the page can be served under any prefix ending in "/". */
export const CHAT_PAGE_TITLE = "QnABot streaming chat";

/** `csp`: the page's Content-Security-Policy (./csp.ts), first in the head so it covers everything after it. */
export function chatPageHtml(csp: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${CHAT_PAGE_TITLE}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="app.css">
<script src="app.js" defer></script>
</head>
<body>
<header class="top">
  <h1>${CHAT_PAGE_TITLE}</h1>
  <span id="label" class="label" hidden></span>
  <p id="status" class="status" role="status" data-state="connecting" data-connections="0">Connecting…</p>
</header>
<main id="conversation-scroller" class="scroller" tabindex="-1">
  <ol id="conversation" class="conversation" aria-label="Conversation"></ol>
</main>
<footer class="composer">
  <p id="notice" class="notice" role="alert" hidden></p>
  <form id="ask-form" class="ask-form">
    <fieldset class="mode">
      <legend>Answer from</legend>
      <label><input type="radio" name="mode" value="llm" checked> LLM</label>
      <label><input type="radio" name="mode" value="kb"> Knowledge base</label>
      <label class="reasoning-toggle"><input type="checkbox" id="reasoning" name="reasoning"> Show reasoning</label>
    </fieldset>
    <label for="question" class="visually-hidden">Question</label>
    <textarea id="question" name="question" rows="2"
      placeholder="Ask a question. Enter sends, Shift+Enter adds a line." aria-describedby="question-help counter"></textarea>
    <span id="question-help" class="visually-hidden">Enter sends, Shift+Enter adds a new line. At most ${MAX_QUESTION_CHARS.toLocaleString("en-US")} characters.</span>
    <button id="send" type="submit" disabled>Send</button>
    <p id="counter" class="counter" data-over="false">0 / ${MAX_QUESTION_CHARS.toLocaleString("en-US")}</p>
  </form>
</footer>
</body>
</html>
`;
}
