/**
 * Which digits each honest peer mostly sees (the non-IID split). The data
 * itself is packages/peer's MnistTask: a private skewed shard per peer and one
 * balanced held-out set (the last 20 % of each digit) shared by all, so what a
 * peer who saw other digits learned is worth something to the rest.
 */
import { skewedClassMix } from '@peerbench/peer';

/** The two digits that dominate honest peer i's shard (consecutive pairs, shifted every 5 peers). */
export function dominantDigits(peerIndex: number): [number, number] {
  const a = (2 * peerIndex + Math.floor(peerIndex / 5)) % 10;
  return [a, (a + 1) % 10];
}

/** Class mix of peer i's shard: `skew` on its two dominant digits, the rest spread over the other eight. */
export function classMixOf(peerIndex: number, skew: number): number[] {
  return skewedClassMix(dominantDigits(peerIndex), skew);
}
