/**
 * RFC 9568 §6.1 timer formulas, named as the RFC names them. Centiseconds in, milliseconds out
 * (exact: a skew of 0.61 cs is 6.1 ms, as the RFC's arithmetic gives it).
 */

/** RFC 9568 §6.1 Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256, in ms. */
export function skewTimeMs(priority: number, masterAdverIntervalCs: number): number {
  return ((256 - priority) * masterAdverIntervalCs * 10) / 256;
}

/** RFC 9568 §6.1 Master_Down_Interval = (3 * Master_Adver_Interval) + Skew_Time, in ms. */
export function masterDownIntervalMs(priority: number, masterAdverIntervalCs: number): number {
  return 3 * masterAdverIntervalCs * 10 + skewTimeMs(priority, masterAdverIntervalCs);
}
