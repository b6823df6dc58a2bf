/**
 * Defines `key` on `target` as an enumerable property whose value `build` makes each time it is
 * read. An answer's per-step and per-token arrays are made this way so that they exist only while
 * the answer's serializer writes their item (one item at a time, in slices), instead of from the
 * moment the item is scored until the whole answer has been written: held that long, under many
 * large requests at once, they were much of what the garbage collector's young generation copied
 * (docs/reliability.md, "Hostile sizes and overload").
 */
export function builtWhenRead<T extends object, K extends keyof T>(target: T, key: K, build: () => T[K]): void {
  Object.defineProperty(target, key, { enumerable: true, configurable: true, get: build });
}
