// Per-process resource use from Linux /proc (the peers are separate processes): CPU seconds
// (utime + stime of /proc/<pid>/stat), peak resident set (VmHWM of /proc/<pid>/status, which can be
// reset to measure one phase), and bytes on disk of a directory tree.
import { readFile, readdir, lstat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux this runs on). */
const CLOCK_TICKS_PER_S = 100;
/** Most directory entries visited by diskBytes (bounded walk). */
const DISK_WALK_ENTRIES_MAX = 200_000;

/** CPU seconds (user + system) used so far by a process; NaN if it is gone. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return (utime + stime) / CLOCK_TICKS_PER_S;
  } catch {
    return NaN;
  }
}

/** Peak resident set size in bytes (VmHWM); NaN if the process is gone. */
export async function peakRssBytes(pid: number): Promise<number> {
  try {
    const s = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(s);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Resets a process's peak resident set (VmHWM) to its current RSS, so that a later peakRssBytes
 * reads the peak since now rather than since the process started: writing "5" to
 * /proc/<pid>/clear_refs (Linux >= 4.0; unlike 1-4 it leaves the pages' referenced and soft-dirty
 * bits alone). Needs the right to write that file (same user or root). Returns false, never throws,
 * when the reset did not happen (process gone, no permission, older kernel, not Linux): the caller
 * must then not present a later VmHWM as the peak of a phase.
 */
export async function resetPeakRss(pid: number): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Bytes allocated on disk under `dir` (like `du -s --block-size=1`: 512-byte blocks used). */
export async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  let visited = 0;
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      if (++visited > DISK_WALK_ENTRIES_MAX) throw new Error(`more than ${DISK_WALK_ENTRIES_MAX} files under ${dir} (DISK_WALK_ENTRIES_MAX)`);
      const p = join(d, n);
      const st = await lstat(p).catch(() => null);
      if (st === null) continue;
      total += st.blocks * 512;
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return total;
}

/** Most threads read per process. */
const THREADS_MAX = 256;

/**
 * CPU seconds per thread name of a process (/proc/<pid>/task/<tid>/comm and stat): separates the
 * JavaScript main thread from libuv's pool (LevelDB reads/writes, crypto), V8's GC helpers and
 * LevelDB's own compaction thread. Names are summed (e.g. all "libuv-worker" threads together).
 */
export async function threadCpuSeconds(pid: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let tids: string[];
  try {
    tids = (await readdir(`/proc/${pid}/task`)).slice(0, THREADS_MAX);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const comm = (await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8')).trim();
      const s = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
      const name = tid === String(pid) ? 'main (JavaScript)' : comm;
      out[name] = (out[name] ?? 0) + (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS_PER_S;
    } catch {
      // thread ended meanwhile
    }
  }
  return out;
}
