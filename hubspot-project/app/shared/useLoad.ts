import { useCallback, useEffect, useState } from 'react';

export type Loaded<T> = { state: 'loading' } | { state: 'error'; error: unknown } | { state: 'ready'; data: T };

/** Loads once on mount and again on reload(); a stale answer never overwrites a newer one. */
export function useLoad<T>(load: () => Promise<T>): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    setLoaded({ state: 'loading' });
    load().then(
      (data) => current && setLoaded({ state: 'ready', data }),
      (error: unknown) => current && setLoaded({ state: 'error', error }),
    );
    return () => {
      current = false;
    };
    // `load` is recreated by callers on every render; reloads are driven by `generation` alone.
  }, [generation]);
  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  return [loaded, reload];
}
