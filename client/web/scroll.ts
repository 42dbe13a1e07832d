/** Auto-scroll follows new text only while the reader is at the bottom; scrolling up releases it. */
export interface ScrollMetrics {
  scrollTop: number;
  scrollHeight: number;
  clientHeight: number;
}

export function isAtBottom(metrics: ScrollMetrics, slackPx = 32): boolean {
  return metrics.scrollHeight - metrics.scrollTop - metrics.clientHeight <= slackPx;
}
