/** A debounced run: `run` once, `delayMs` after the first `schedule` since it last ran or was cancelled. */
export interface Delayed {
  schedule(): void;
  /** Drops a scheduled run; the next `schedule` starts a new delay. */
  cancel(): void;
}

/** Its timer never holds the process open. */
export function delayed(run: () => void, delayMs: number): Delayed {
  let timer: NodeJS.Timeout | undefined;
  return {
    schedule() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        run();
      }, delayMs);
      timer.unref();
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
