// Timer arithmetic of RFC 5880 6.8.2-6.8.4 and 6.8.7. All intervals are in microseconds.
import { BFD_SLOW_TX_INTERVAL_US } from './constants.ts';

/**
 * The interval this system transmits at: the slower of what it wants to send and what the peer
 * is willing to receive (RFC 5880 6.8.2, 6.8.7).
 */
export function negotiatedTxIntervalUs(localDesiredMinTxUs: number, remoteRequiredMinRxUs: number): number {
  return Math.max(localDesiredMinTxUs, remoteRequiredMinRxUs);
}

/**
 * Asynchronous-mode Detection Time (RFC 5880 6.8.4): the peer's Detect Mult times the interval it
 * actually transmits at, the slower of our Required Min RX and its Desired Min TX. Zero when
 * nothing has been heard yet (remote Detect Mult still 0).
 */
export function detectionTimeUs(
  remoteDetectMult: number,
  localRequiredMinRxUs: number,
  remoteDesiredMinTxUs: number,
): number {
  return remoteDetectMult * Math.max(localRequiredMinRxUs, remoteDesiredMinTxUs);
}

/**
 * bfd.DesiredMinTxInterval as advertised: while the session is not Up it must be at least one
 * second, so sessions that are not Up cost next to nothing (RFC 5880 6.8.3).
 */
export function effectiveDesiredMinTxUs(configuredUs: number, up: boolean): number {
  return up ? configuredUs : Math.max(configuredUs, BFD_SLOW_TX_INTERVAL_US);
}

/** Bounds of the jitter factor applied to each periodic interval (RFC 5880 6.8.7). */
export function jitterBounds(detectMult: number): { readonly min: number; readonly max: number } {
  // With Detect Mult 1 a single late packet would end the session, so the interval is kept at
  // 75-90 % instead of 75-100 %.
  return detectMult === 1 ? { min: 0.75, max: 0.9 } : { min: 0.75, max: 1 };
}

/**
 * One periodic interval with jitter: reduced by a random 0-25 % (10-25 % when Detect Mult is 1),
 * per packet (RFC 5880 6.8.7). `random` is expected in [0, 1); anything else is clamped, so a bad
 * source can never push the interval out of the allowed band.
 */
export function jitteredIntervalUs(intervalUs: number, detectMult: number, random: () => number): number {
  const { min, max } = jitterBounds(detectMult);
  let r = random();
  if (!(r >= 0)) r = 0; // also catches NaN
  if (r > 1) r = 1;
  return intervalUs * (max - (max - min) * r);
}
