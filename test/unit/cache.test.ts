import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LayerCache } from '../../src/engine/cache.js';
import { tempProject } from '../helpers.js';

async function cacheWith(sizes: number[]) {
  const dir = await tempProject({});
  const cache = new LayerCache(path.join(dir, 'cache'));
  await cache.init();
  for (const [i, size] of sizes.entries()) {
    const built = path.join(cache.workPath(`k${i}`), 'upper');
    await mkdir(built, { recursive: true });
    await writeFile(path.join(built, 'file'), Buffer.alloc(size * 4096, 1));
    await cache.commit({ key: `k${i}`, layer: `l${i}`, step: 'finish', architecture: 'amd64', buildSeconds: 1 }, built);
    await new Promise((r) => setTimeout(r, 5));
  }
  return cache;
}

describe('layer cache', () => {
  it('commits and finds an entry', async () => {
    const cache = await cacheWith([100]);
    const entry = await cache.lookup('k0');
    expect(entry).toMatchObject({ key: 'k0', layer: 'l0', step: 'finish' });
    expect(entry!.size).toBeGreaterThanOrEqual(100 * 4096);
    expect(existsSync(path.join(entry!.dir, 'file'))).toBe(true);
    expect(await readdir(cache.tmpDir)).toEqual([]);
  });

  it('does not trust a snapshot without metadata; a second commit of a key keeps the first', async () => {
    const cache = await cacheWith([1]);
    await mkdir(cache.snapshotDir('orphan'));
    expect(await cache.lookup('orphan')).toBeUndefined();
    // An interrupted commit left a directory without metadata: the next commit replaces it.
    const built = path.join(cache.workPath('orphan'), 'upper');
    await mkdir(built, { recursive: true });
    await writeFile(path.join(built, 'new'), 'x');
    const entry = await cache.commit({ key: 'orphan', layer: 'l', step: 'finish', architecture: 'amd64', buildSeconds: 1 }, built);
    expect(existsSync(path.join(entry.dir, 'new'))).toBe(true);
    const again = path.join(cache.workPath('orphan'), 'upper');
    await mkdir(again, { recursive: true });
    await cache.commit({ key: 'orphan', layer: 'l', step: 'finish', architecture: 'amd64', buildSeconds: 1 }, again);
    expect(existsSync(again)).toBe(false);
    expect(existsSync(path.join(entry.dir, 'new'))).toBe(true);
  });

  it('a second locker waits until the first releases', async () => {
    const cache = await cacheWith([]);
    const release = await cache.lock('k');
    let second = false;
    let waited = false;
    const p = cache.lock('k', () => (waited = true)).then((r) => ((second = true), r));
    await new Promise((r) => setTimeout(r, 400));
    expect(second).toBe(false);
    expect(waited).toBe(true);
    await release();
    await (await p)();
    expect(second).toBe(true);
  });

  it('takes over a lock whose process is gone', async () => {
    const cache = await cacheWith([]);
    await writeFile(path.join(cache.dir, 'locks', 'k.lock'), `${hostname()} 999999999\n`);
    const release = await cache.lock('k');
    await release();
  });

  it('cleans by count, age and size, least recently used first, sparing kept keys', async () => {
    const cache = await cacheWith([10, 20, 30, 40]); // 4 KiB pages
    await cache.lookup('k0'); // k0 is now the most recently used
    expect((await cache.clean({ keepLast: 3 })).map((e) => e.key)).toEqual(['k1']);
    expect((await cache.clean({ maxBytes: 50 * 4096, keep: new Set(['k2']) })).map((e) => e.key)).toEqual(['k3']);
    expect((await cache.list()).map((e) => e.key).sort()).toEqual(['k0', 'k2']);
    expect(await cache.clean({ olderThanMs: 60_000 })).toEqual([]);
    expect((await cache.clean({ all: true })).length).toBe(2);
  });

  it('keeps artifacts made from a layer beside it: counted in its size, removed with it', async () => {
    const cache = await cacheWith([10, 10]);
    const temp = cache.tempDerived('k0', 'slot-x.ext4');
    await writeFile(temp, Buffer.alloc(64 * 1024, 1));
    const file = await cache.commitDerived('k0', 'slot-x.ext4', temp);
    expect(file).toBe(cache.derivedPath('k0', 'slot-x.ext4'));
    const [k0] = (await cache.list()).filter((e) => e.key === 'k0');
    expect(k0!.derivedBytes).toBeGreaterThanOrEqual(64 * 1024);
    expect((await cache.list()).find((e) => e.key === 'k1')!.derivedBytes).toBe(0);
    await cache.remove('k0');
    expect(existsSync(file)).toBe(false);
    expect((await cache.list()).map((e) => e.key)).toEqual(['k1']);
  });

  it('finds leftovers of dead builds, not of live ones', async () => {
    const cache = await cacheWith([]);
    const dead = path.join(cache.tmpDir, `abc~${hostname()}~999999999~1234.tar`);
    const alive = cache.tempDerived('abc', 'tar');
    await writeFile(dead, 'x');
    await writeFile(alive, 'x');
    await cache.removeLeftovers();
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(alive)).toBe(true);
    await mkdir(path.join(cache.workDir, `abc~${hostname()}~999999999~1234`));
    await mkdir(cache.workPath('abc'));
    expect(await cache.staleWorkTrees()).toEqual([path.join(cache.workDir, `abc~${hostname()}~999999999~1234`)]);
  });
});
