import { expect, test } from 'vitest';
import { defaultBackoff, restartDelayMs } from '../../../src/supervisor/index.js';

test('restart delay doubles per consecutive quick failure and is capped', () => {
  const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => restartDelayMs(defaultBackoff, n));
  expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});
