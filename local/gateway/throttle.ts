/**
 * API Gateway stage throttling: a token bucket per stage, one token per request, refilled at
 * `rateLimit` per second up to `burstLimit` ("API Gateway throttles requests to your API
 * using the token bucket algorithm, where a token counts for a request"; a request past
 * the rate and burst gets `429 Too Many Requests`: developer guide, "Protect your WebSocket
 * APIs" / "Throttle requests"). Per stage, not per client: one chatty client spends the
 * whole stage's bucket, as on AWS. Pure apart from the clock it is given.
 */

import { DEFAULT_ROUTE_THROTTLES } from "../../functions/shared/routes";

export interface StageThrottle {
  /** Steady-state requests per second (the stage's `throttlingRateLimit`). */
  readonly rateLimit: number;
  /** Bucket size: requests that may arrive at once (the stage's `throttlingBurstLimit`). */
  readonly burstLimit: number;
}

/** The stack's defaults (Pulumi.yaml `throttlingRateLimit` / `throttlingBurstLimit`). */
export const DEFAULT_STAGE_THROTTLE: StageThrottle = { rateLimit: 50, burstLimit: 100 };

/**
 * Route-level throttles: a route named here has a bucket of its own and draws nothing from the
 * stage's ("You can set route-level throttling to override the account-level request
 * throttling limits for a specific stage or for individual routes": developer guide, "Protect
 * your WebSocket APIs", https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-protect.html).
 * The deployed defaults are DEFAULT_ROUTE_THROTTLES (functions/shared/routes.ts).
 */
export type RouteThrottles = Readonly<Record<string, StageThrottle>>;

export { DEFAULT_ROUTE_THROTTLES };

export function checkStageThrottle(throttle: StageThrottle): StageThrottle {
  const { rateLimit, burstLimit } = throttle;
  if (!(Number.isFinite(rateLimit) && rateLimit > 0)) throw new RangeError(`throttle rateLimit must be a positive number of requests per second, not ${rateLimit}`);
  if (!(Number.isInteger(burstLimit) && burstLimit >= 1)) throw new RangeError(`throttle burstLimit must be a whole number of requests of at least 1, not ${burstLimit}`);
  return throttle;
}

export class TokenBucket {
  private tokens: number;
  private refilledAt: number;
  /** Requests let through and refused so far. */
  passed = 0;
  throttled = 0;

  constructor(
    private readonly limits: StageThrottle,
    private readonly now: () => number,
  ) {
    checkStageThrottle(limits);
    this.tokens = limits.burstLimit;
    this.refilledAt = now();
  }

  /** Takes a token for one request: true when it may proceed, false when it is throttled. */
  take(): boolean {
    const now = this.now();
    const elapsedSeconds = Math.max(0, now - this.refilledAt) / 1000;
    this.tokens = Math.min(this.limits.burstLimit, this.tokens + elapsedSeconds * this.limits.rateLimit);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.passed += 1;
      return true;
    }
    this.throttled += 1;
    return false;
  }
}
