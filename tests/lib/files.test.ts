/**
 * Safe files: atomic writes that never follow a planted symlink and never leave a temporary file
 * behind; bounded reads that refuse devices, FIFOs and huge files before reading anything.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  rmSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileError, checkWritable, readFileBounded, removeStaleTemporaries, sameFile, writeFileAtomic } from '../../lib/io/files.ts';
import { MAX_CASE_BYTES } from '../../lib/io/limits.ts';

const root = join(import.meta.dirname, '..', '..');
const fresh = () => mkdtempSync(join(tmpdir(), 'dni-files-'));
/** a pid that was alive a moment ago and is not any more */
const deadPid = () => {
  const p = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(p.stdout.trim());
};

describe('writeFileAtomic', () => {
  it('writes, replaces, keeps the mode, leaves nothing else in the folder', () => {
    const dir = fresh(),
      path = join(dir, 'a.json');
    writeFileAtomic(path, 'one');
    chmodSync(path, 0o640);
    writeFileAtomic(path, new TextEncoder().encode('two'));
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(['a.json']);
  });

  it('replaces a symlink at the target by a file, never writing through it', () => {
    const dir = fresh(),
      victim = join(dir, 'victim.txt'),
      path = join(dir, 'out.json');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, path);
    writeFileAtomic(path, 'new');
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(readFileSync(path, 'utf8')).toBe('new');
  });

  it('temporary names are unpredictable and created exclusively: symlinks planted at the old fixed names are not followed', () => {
    const dir = fresh(),
      victim = join(dir, 'victim.txt'),
      path = join(dir, 'out.json');
    writeFileSync(victim, 'precious');
    // the names an attacker could guess before: OUT.tmp, OUT.tmp-PID-*, .OUT.tmp-PID-0000000000000000
    symlinkSync(victim, `${path}.tmp`);
    symlinkSync(victim, join(dir, `.out.json.tmp-${process.pid}-0000000000000000`));
    for (let i = 0; i < 20; i++) writeFileAtomic(path, `v${i}`);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(readFileSync(path, 'utf8')).toBe('v19');
    const names = readdirSync(dir).sort();
    // the planted links stay (this process is alive, so they are not taken for stale temporaries of it)
    expect(names).toEqual([`.out.json.tmp-${process.pid}-0000000000000000`, 'out.json', 'out.json.tmp', 'victim.txt']);
  });

  it('a failed rename (the target is a folder) throws a FileError naming it and leaves no temporary file', () => {
    const dir = fresh(),
      path = join(dir, 'taken');
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'x');
    expect(() => writeFileAtomic(path, 'data')).toThrow(FileError);
    expect(() => writeFileAtomic(path, 'data')).toThrow(/taken: is a folder/);
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  it('refuses to replace a device (as root, a rename over /dev/null would replace the device node)', () => {
    expect(() => writeFileAtomic('/dev/null', 'x')).toThrow(/\/dev\/null: is a character device: it will not be replaced/);
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('a write error (file size limit, EFBIG) throws, leaves the old file and no temporary file', () => {
    const dir = fresh(),
      path = join(dir, 'big.bin');
    writeFileSync(path, 'old');
    const script = `import { writeFileAtomic } from ${JSON.stringify(join(root, 'lib', 'io', 'files.ts'))};
try { writeFileAtomic(${JSON.stringify(path)}, Buffer.alloc(200_000, 1)); console.log('written'); }
catch (e) { console.log(e.name + ' ' + e.message); }`;
    const scriptPath = join(dir, 'write.mts');
    writeFileSync(scriptPath, script);
    // ulimit -f counts 1024-byte blocks: 64 KiB is enough for node and tsx, not for the 200 kB file
    const out = execFileSync('bash', ['-c', `ulimit -f 64; exec "${process.execPath}" --import tsx "${scriptPath}"`], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(out.trim()).toMatch(new RegExp(`^FileError .*big\\.bin: cannot be written \\(EFBIG`));
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir).sort()).toEqual(['big.bin', 'write.mts']);
  });

  it("temporaries left by a process killed during a save are removed by the next save; a live process's are kept", async () => {
    const dir = fresh(),
      path = join(dir, 'run.ckpt');
    const dead = deadPid();
    const stale = join(dir, `.run.ckpt.tmp-${dead}-0123456789abcdef`);
    const live = join(dir, `.run.ckpt.tmp-${process.ppid}-0123456789abcdef`);
    const other = join(dir, `.other.ckpt.tmp-${dead}-0123456789abcdef`);
    for (const p of [stale, live, other]) writeFileSync(p, 'partial');
    writeFileAtomic(path, 'x');
    expect(readdirSync(dir).sort()).toEqual([live, other, path].map((p) => p.slice(dir.length + 1)).sort());

    // and for real: a process SIGKILLed in the middle of writing a large file
    const target = join(dir, 'killed.bin');
    const script = join(dir, 'slow.mts');
    writeFileSync(
      script,
      `import { writeFileAtomic } from ${JSON.stringify(join(root, 'lib', 'io', 'files.ts'))};
const big = Buffer.alloc(64 * 2 ** 20, 7);
console.log('ready');
for (;;) writeFileAtomic(${JSON.stringify(target)}, big);`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const temp = () => readdirSync(dir).filter((n) => n.startsWith('.killed.bin.tmp-'));
    const deadline = Date.now() + 20_000;
    while (temp().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(temp()).toHaveLength(1);
    writeFileAtomic(target, 'after');
    expect(temp()).toEqual([]);
    expect(readFileSync(target, 'utf8')).toBe('after');
  });

  it('removeStaleTemporaries never removes a folder or a name of another shape', () => {
    const dir = fresh(),
      dead = deadPid();
    mkdirSync(join(dir, `.a.tmp-${dead}-0123456789abcdef`));
    writeFileSync(join(dir, `.a.tmp-${dead}-xyz`), '');
    writeFileSync(join(dir, `.a.tmp-${dead}-0123456789abcdef0`), '');
    expect(removeStaleTemporaries(join(dir, 'a'))).toBe(0);
    expect(readdirSync(dir)).toHaveLength(3);
  });
});

describe('readFileBounded', () => {
  it('reads a regular file', () => {
    const dir = fresh(),
      path = join(dir, 'c.json');
    writeFileSync(path, '{"a":1}');
    expect(readFileBounded(path, MAX_CASE_BYTES).toString()).toBe('{"a":1}');
  });

  it('refuses /dev/zero, a FIFO (without waiting for a writer) and a folder before reading', () => {
    expect(() => readFileBounded('/dev/zero', MAX_CASE_BYTES)).toThrow(
      /^\/dev\/zero: is a character device, not a regular file: a case file must be a file$/,
    );
    const dir = fresh(),
      fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const t0 = performance.now();
    expect(() => readFileBounded(fifo, MAX_CASE_BYTES)).toThrow(/pipe: is a FIFO \(named pipe\), not a regular file/);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(() => readFileBounded(dir, MAX_CASE_BYTES)).toThrow(/is a folder, not a regular file/);
  });

  it('refuses a 3 GB file with its size, the limit and how to raise it, without reading it', () => {
    const dir = fresh(),
      path = join(dir, 'huge.json');
    closeSync(openSync(path, 'w'));
    truncateSync(path, 3e9); // sparse: takes no space
    const t0 = performance.now();
    expect(() => readFileBounded(path, MAX_CASE_BYTES)).toThrow(
      new RegExp(
        /huge\.json: is 2\.8 GiB \(3000000000 bytes\), larger than the limit of 256 MiB \(268435456 bytes\) /.source +
          /for a case file \(set DNI_MAX_CASE_BYTES=BYTES to raise it\)/.source,
      ),
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(() => readFileBounded(path, MAX_CASE_BYTES, 10)).toThrow(/limit of 10 bytes .*raise maxBytes/);
    rmSync(path);
  });

  it('the environment variable raises the limit; a malformed one is an error, not the default', () => {
    const dir = fresh(),
      path = join(dir, 'c.json');
    writeFileSync(path, 'x'.repeat(100));
    const saved = process.env.DNI_MAX_CASE_BYTES;
    try {
      process.env.DNI_MAX_CASE_BYTES = '50';
      expect(() => readFileBounded(path, MAX_CASE_BYTES)).toThrow(/limit of 50 bytes/);
      process.env.DNI_MAX_CASE_BYTES = '100';
      expect(readFileBounded(path, MAX_CASE_BYTES)).toHaveLength(100);
      process.env.DNI_MAX_CASE_BYTES = '1e9';
      expect(() => readFileBounded(path, MAX_CASE_BYTES)).toThrow(/DNI_MAX_CASE_BYTES must be a number of bytes/);
    } finally {
      if (saved === undefined) delete process.env.DNI_MAX_CASE_BYTES;
      else process.env.DNI_MAX_CASE_BYTES = saved;
    }
  });

  it('a missing file names the file and the reason', () => {
    expect(() => readFileBounded('/nonexistent/x.json', MAX_CASE_BYTES)).toThrow(
      /^\/nonexistent\/x\.json: cannot be read \(ENOENT: no such file or folder\)$/,
    );
  });
});

describe('checkWritable and sameFile', () => {
  it('checkWritable: a missing folder, a folder in place of the file, a file in place of the folder', () => {
    const dir = fresh();
    checkWritable(join(dir, 'new.json'));
    expect(readdirSync(dir)).toEqual([]);
    expect(() => checkWritable(join(dir, 'nope', 'x.json'))).toThrow(/its folder .*nope cannot be used \(ENOENT/);
    mkdirSync(join(dir, 'sub'));
    expect(() => checkWritable(join(dir, 'sub'))).toThrow(/sub: is a folder/);
    writeFileSync(join(dir, 'file'), '');
    expect(() => checkWritable(join(dir, 'file', 'x.json'))).toThrow(/file is not a folder/);
    expect(() => checkWritable('/proc/version')).toThrow(FileError);
  });

  it('sameFile: ./x vs x, a hard link, a symlink, and two new names', () => {
    const dir = fresh(),
      a = join(dir, 'a.json');
    writeFileSync(a, '{}');
    linkSync(a, join(dir, 'hard.json'));
    symlinkSync(a, join(dir, 'soft.json'));
    expect(sameFile(a, join(dir, '.', 'a.json'))).toBe(true);
    expect(sameFile(a, join(dir, 'hard.json'))).toBe(true);
    expect(sameFile(a, join(dir, 'soft.json'))).toBe(true);
    expect(sameFile(join(dir, 'new.json'), join(dir, 'sub', '..', 'new.json'))).toBe(true);
    expect(sameFile(a, join(dir, 'new.json'))).toBe(false);
    mkdirSync(join(dir, 'sub'));
    symlinkSync(join(dir, 'sub'), join(dir, 'link-to-sub'));
    expect(sameFile(join(dir, 'sub', 'n.json'), join(dir, 'link-to-sub', 'n.json'))).toBe(true);
  });
});
