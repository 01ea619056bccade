// Replacing a small state file (an export cursor, a capture position) so that a crash or a power
// loss leaves either the old content or the new, never a mix or nothing: write a temp file in the
// same directory, fsync it, rename it over the old one, then fsync the directory (a rename is
// durable only once the directory entry is on disk).
import { open, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Durably replaces `path` with `text` (file mode 0600 by default). */
export async function replaceFileDurably(path: string, text: string, mode = 0o600): Promise<void> {
  // The pid keeps two processes pointed at the same file from writing one temp file together.
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const f = await open(tmp, 'w', mode);
  try {
    await f.writeFile(text);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
  const d = await open(dirname(path), 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
