/** In-process mutual exclusion per key: callers with the same key run one after another, other keys never wait. */
export class KeyedMutex<K> {
  readonly #tails = new Map<K, Promise<void>>();

  async run<T>(key: K, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release = (): void => undefined;
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => done);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // The last holder of a key removes it, so the map only holds keys someone is waiting on.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
