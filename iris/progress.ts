/**
 * A progress bar on stderr for long command-line work. On a terminal it redraws in place; elsewhere (CI,
 * pipes) it prints a plain line every 10%, so logs stay readable.
 */
import { SingleBar } from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

export function startProgress(label: string, total: number): Progress {
  if (process.stderr.isTTY) {
    const bar = new SingleBar({
      format: `${label} [{bar}] {percentage}% {value}/{total} eta {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
    });
    bar.start(total, 0);
    return { update: (done) => bar.update(done), stop: () => bar.stop() };
  }
  let shownTenth = -1;
  return {
    update(done) {
      const tenth = Math.floor((10 * done) / Math.max(1, total));
      if (tenth === shownTenth) return;
      shownTenth = tenth;
      process.stderr.write(`${label}: ${done}/${total}\n`);
    },
    stop() {},
  };
}
