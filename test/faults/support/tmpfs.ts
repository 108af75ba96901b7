import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A small tmpfs of the scenario's own, for a disk that fills up or turns read-only under a running backend. Mounting
 * needs root (CI and these machines run as root); anywhere else the scenario cannot be staged and says so.
 */
export interface SmallDisk {
  dir: string;
  /** Writes a filler file until the disk refuses (ENOSPC). */
  fill(): void;
  /** Removes the filler: room again. */
  free(): void;
  readOnly(): Promise<void>;
  readWrite(): Promise<void>;
  unmount(): Promise<void>;
}

function writeUntilFull(file: string, chunkBytes: number): void {
  const fd = openSync(file, 'a');
  const chunk = Buffer.alloc(chunkBytes);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
}

export async function mountSmallDisk(sizeBytes: number): Promise<SmallDisk> {
  if (userInfo().uid !== 0) throw new Error('tmpfs scenarios need root to mount a small disk (CI runs as root)');
  const dir = mkdtempSync(join(tmpdir(), 'vg-small-disk-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir]);
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      // Big chunks first, then small ones for the last partial page.
      writeUntilFull(filler, 64 * 1024);
      writeUntilFull(filler, 512);
    },
    free() {
      rmSync(filler, { force: true });
    },
    async readOnly() {
      await run('mount', ['-o', 'remount,ro', dir]);
    },
    async readWrite() {
      await run('mount', ['-o', 'remount,rw', dir]);
    },
    async unmount() {
      await run('umount', ['-l', dir]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
