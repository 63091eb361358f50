import { describe, expect, it } from 'vitest';
import { delayed } from '../src/delayed.js';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('delayed', () => {
  it('runs once for any number of schedules within the delay, and again after a new schedule', async () => {
    let runs = 0;
    const d = delayed(() => (runs += 1), 20);
    d.schedule();
    d.schedule();
    d.schedule();
    await wait(60);
    expect(runs).toBe(1);
    d.schedule();
    await wait(60);
    expect(runs).toBe(2);
  });

  it('runs nothing once cancelled, and schedules anew after a cancel', async () => {
    let runs = 0;
    const d = delayed(() => (runs += 1), 20);
    d.schedule();
    d.cancel();
    await wait(60);
    expect(runs).toBe(0);
    d.schedule();
    await wait(60);
    expect(runs).toBe(1);
  });
});
