/** What a view reads once (again when `deps` change): the value, or the problem that stopped it. */
import { useEffect, useState } from 'preact/hooks';

export function useLoaded<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
): { value: T | undefined; problem: string | undefined } {
  const [state, setState] = useState<{ value: T | undefined; problem: string | undefined }>({
    value: undefined,
    problem: undefined,
  });
  useEffect(() => {
    let stopped = false;
    load().then(
      (value) => !stopped && setState({ value, problem: undefined }),
      (err: Error) => !stopped && setState((s) => ({ value: s.value, problem: err.message })),
    );
    return () => {
      stopped = true;
    };
  }, deps);
  return state;
}
