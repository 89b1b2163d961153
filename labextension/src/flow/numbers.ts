/** The largest of `f` over a list (0 for an empty one), without spreading big arrays into arguments. */
export function maxOf<T>(list: readonly T[], f: (item: T) => number): number {
  let max = list.length > 0 ? -Infinity : 0;
  for (const item of list) {
    max = Math.max(max, f(item));
  }
  return max;
}
