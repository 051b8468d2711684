// Where a process's threads spend their time, from Linux's /proc/<pid>/task/<tid>/schedstat: CPU time,
// and time spent runnable but waiting for a core (what a busy machine adds to every step of a request),
// for each thread of a server under load, without instrumenting it.
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadTime {
  /** Seconds on a core. */
  cpu: number;
  /** Seconds runnable, waiting for a core. */
  wait: number;
}

/** Each thread of `pid` (`'self'`: this process), by thread id; threads that have exited are absent. */
export function threadTimes(pid: number | 'self'): Map<number, ThreadTime> {
  const times = new Map<number, ThreadTime>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return times; // not Linux, or the process is gone
  }
  for (const tid of tids) {
    try {
      const [cpu, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      times.set(Number(tid), { cpu: cpu! / 1e9, wait: wait! / 1e9 });
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return times;
}

/** Time between two readings of `pid`: its main thread (whose id is the process id), and all the others. */
export function timesSince(pid: number, before: Map<number, ThreadTime>, after: Map<number, ThreadTime>): { main: ThreadTime; others: ThreadTime } {
  const main = { cpu: 0, wait: 0 };
  const others = { cpu: 0, wait: 0 };
  for (const [tid, t] of after) {
    const was = before.get(tid) ?? { cpu: 0, wait: 0 };
    const into = tid === pid ? main : others;
    into.cpu += t.cpu - was.cpu;
    into.wait += t.wait - was.wait;
  }
  return { main, others };
}
