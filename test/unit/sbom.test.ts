/**
 * Supply chain records: the package inventory, SBOM documents (checked by validators from npm),
 * Debian version order (dpkg as the oracle), the diff of two builds and the package lock.
 */
import { execa } from 'execa';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LayerCache } from '../../src/engine/cache.js';
import { ROOTFS_TOOL } from '../../src/engine/steps.js';
import { cycloneDxDocument, packageLicenses, spdxDocument, writeSboms, type SbomPackage, type SbomSubject } from '../../src/sbom/documents.js';
import { diffBuilds, diffLines, type BuildRecord } from '../../src/sbom/diff.js';
import { parseManifest, recordFiles, systemFiles, type LayerFile } from '../../src/sbom/files.js';
import { lockedSystem, lockEntry, lockMismatches, mirrorDrift, parseMirrorIndex, readLock, refuseDrift, writeLockEntry } from '../../src/sbom/lock.js';
import { inheritChecksums, parseInventory, purl } from '../../src/sbom/packages.js';
import { compareDebianVersions } from '../../src/sbom/versions.js';
import { cycloneDxProblems, spdxProblems } from '../sbom-checks.js';

const tmp = await mkdtemp(path.join(tmpdir(), 'bakery-sbom-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

const SHA = (c: string) => c.repeat(64);
const PACKAGES: SbomPackage[] = [
  { name: 'base-files', version: '13.8', architecture: 'amd64', source: 'base-files', sourceVersion: '13.8', sha256: SHA('a'), licenses: ['GPL-2+'], layer: 'debian-trixie' },
  { name: 'libc6', version: '2.41-12', architecture: 'amd64', source: 'glibc', sourceVersion: '2.41-12', sha256: SHA('b'), licenses: ['LGPL-2.1+', 'GPL-2+ and BSD-3-clause', 'Unicode-DFS-2016-custom'], layer: 'debian-trixie' },
  { name: 'libgcc-s1', version: '1:14.2.0-19', architecture: 'amd64', source: 'gcc-14', sourceVersion: '14.2.0-19', licenses: [], layer: 'debian-trixie' },
  { name: 'demo-tool', version: '1.0+b1', architecture: 'all', source: 'demo', sourceVersion: '1.0', sha256: SHA('c'), licenses: ['Expat'], layer: 'demo' },
];
const SUBJECT: SbomSubject = { file: 'system.img', sha256: SHA('d'), kind: 'image', system: 'demo-efi-amd64', version: '1.0.0', architecture: 'amd64', sourceDateEpoch: 1700000000 };

describe('package inventory', () => {
  it('parses the worker\'s lines; "-" is unknown; sorted by name and architecture', () => {
    const tsv = `zlib1g\t1:1.3.dfsg-3\tamd64\tzlib\t1:1.3.dfsg-3\t${SHA('e')}\tZlib\nbash\t5.2-2\tamd64\tbash\t5.2-2\t-\tGPL-3+|BSD-4-clause-UC\n`;
    const packages = parseInventory(tsv);
    expect(packages.map((p) => p.name)).toEqual(['bash', 'zlib1g']);
    expect(packages[0]).toEqual({ name: 'bash', version: '5.2-2', architecture: 'amd64', source: 'bash', sourceVersion: '5.2-2', licenses: ['GPL-3+', 'BSD-4-clause-UC'] });
    expect(packages[1]!.sha256).toBe(SHA('e'));
    expect(() => parseInventory('broken line\n')).toThrow(/malformed/);
  });

  it('checksums the inventory did not find come from the layer below, for the same version only', () => {
    const [bash] = parseInventory('bash\t5.2-2\tamd64\tbash\t5.2-2\t-\t-\n');
    expect(inheritChecksums([bash!], [{ ...bash!, sha256: SHA('1') }])[0]!.sha256).toBe(SHA('1'));
    expect(inheritChecksums([bash!], [{ ...bash!, version: '5.2-1', sha256: SHA('1') }])[0]!.sha256).toBeUndefined();
  });

  it('the worker\'s inventory of this host: every package dpkg lists as installed, with checksums from apt\'s lists', async () => {
    const out = path.join(tmp, 'host.tsv');
    await execa(ROOTFS_TOOL, ['inventory', '/', out], { env: { BAKERY_DEB_CACHE: '' } });
    const packages = parseInventory(await readFile(out, 'utf8'));
    const dpkg = (await execa('dpkg-query', ['-W', '-f=${db:Status-Abbrev} ${Package}:${Architecture}\n'])).stdout.split('\n').filter((l) => l.startsWith('ii')).map((l) => l.split(' ').at(-1));
    expect(packages.map((p) => `${p.name}:${p.architecture}`).sort()).toEqual(dpkg.sort());
    const bash = packages.find((p) => p.name === 'bash')!;
    expect(bash.version).toBe((await execa('dpkg-query', ['-W', '-f=${Version}', 'bash'])).stdout);
    expect(bash.licenses.length).toBeGreaterThan(0);
    // Most of the host came from its mirror, whose lists apt keeps.
    expect(packages.filter((p) => p.sha256).length).toBeGreaterThan(packages.length / 2);
  });
});

describe('SBOM documents', () => {
  it('SPDX 2.3 and CycloneDX 1.6 documents pass their validators', async () => {
    expect(spdxProblems(spdxDocument(SUBJECT, PACKAGES) as Record<string, unknown>)).toEqual([]);
    expect(await cycloneDxProblems(cycloneDxDocument(SUBJECT, PACKAGES))).toEqual([]);
    const bundle = { ...SUBJECT, kind: 'bundle' as const, file: 'system.raucb' };
    expect(spdxProblems(spdxDocument(bundle, PACKAGES) as Record<string, unknown>)).toEqual([]);
    expect(await cycloneDxProblems(cycloneDxDocument(bundle, PACKAGES))).toEqual([]);
  });

  it('the validators reject what the specs forbid (so a pass means something)', async () => {
    const cdx = cycloneDxDocument(SUBJECT, PACKAGES) as { components: { hashes?: { content: string }[]; licenses?: unknown[] }[] };
    cdx.components[0]!.hashes![0]!.content = 'not-a-hash';
    expect((await cycloneDxProblems(cdx)).length).toBe(1);
    const cdx2 = cycloneDxDocument(SUBJECT, PACKAGES) as { components: { licenses?: unknown[] }[] };
    cdx2.components[0]!.licenses = [{ license: { id: 'GPL-2+' } }];
    expect((await cycloneDxProblems(cdx2)).length).toBe(1);
    const spdx = spdxDocument(SUBJECT, PACKAGES) as { packages: Record<string, unknown>[]; relationships: unknown[] };
    spdx.packages[1]!.licenseDeclared = 'GPL-2+ and Expat';
    spdx.packages[2]!.SPDXID = 'SPDXRef-has space';
    spdx.relationships = [];
    expect(spdxProblems(spdx as unknown as Record<string, unknown>)).toEqual([
      expect.stringContaining('is not an SPDX license expression'),
      expect.stringContaining('SPDXID SPDXRef-has space'),
      'the document DESCRIBES nothing',
    ]);
  });

  it('Debian license names map to SPDX identifiers; others stay named (LicenseRef in SPDX), never guessed', () => {
    expect(packageLicenses(PACKAGES[1]!)).toEqual([
      { id: 'BSD-3-Clause', name: 'BSD-3-clause' },
      { id: 'GPL-2.0-or-later', name: 'GPL-2+' },
      { id: 'LGPL-2.1-or-later', name: 'LGPL-2.1+' },
      { name: 'Unicode-DFS-2016-custom' },
    ]);
    const spdx = spdxDocument(SUBJECT, PACKAGES) as { packages: { name: string; licenseDeclared: string }[]; hasExtractedLicensingInfos: { licenseId: string }[] };
    expect(spdx.packages.find((p) => p.name === 'libc6')!.licenseDeclared).toBe('BSD-3-Clause AND GPL-2.0-or-later AND LGPL-2.1-or-later AND LicenseRef-debian-Unicode-DFS-2016-custom');
    expect(spdx.packages.find((p) => p.name === 'libgcc-s1')!.licenseDeclared).toBe('NOASSERTION');
    expect(spdx.hasExtractedLicensingInfos.map((e) => e.licenseId)).toEqual(['LicenseRef-debian-Unicode-DFS-2016-custom']);
  });

  it('names each package by purl (epoch kept), with its .deb checksum and layer; the same inputs give the same bytes', async () => {
    expect(purl(PACKAGES[2]!)).toBe('pkg:deb/debian/libgcc-s1@1:14.2.0-19?arch=amd64');
    expect(purl(PACKAGES[3]!)).toBe('pkg:deb/debian/demo-tool@1.0%2Bb1?arch=all');
    const cdx = cycloneDxDocument(SUBJECT, PACKAGES) as { components: { name: string; hashes?: unknown[]; properties: { name: string; value: string }[] }[]; metadata: { timestamp: string } };
    expect(cdx.metadata.timestamp).toBe('2023-11-14T22:13:20Z');
    expect(cdx.components.find((c) => c.name === 'demo-tool')!.properties).toContainEqual({ name: 'bakery:layer', value: 'demo' });
    expect(cdx.components.find((c) => c.name === 'libgcc-s1')!.hashes).toBeUndefined();
    const a = await writeSboms(path.join(tmp, 'a.img'), SUBJECT, PACKAGES);
    const b = await writeSboms(path.join(tmp, 'b.img'), SUBJECT, PACKAGES);
    expect(await readFile(a.spdx, 'utf8')).toBe(await readFile(b.spdx, 'utf8'));
    expect(await readFile(a.cyclonedx, 'utf8')).toBe(await readFile(b.cyclonedx, 'utf8'));
    // Another subject, another identity.
    const other = spdxDocument({ ...SUBJECT, sha256: SHA('f') }, PACKAGES) as { documentNamespace: string };
    expect(other.documentNamespace).not.toBe((spdxDocument(SUBJECT, PACKAGES) as { documentNamespace: string }).documentNamespace);
  });
});

describe('Debian version order', () => {
  const pairs: [string, string][] = [
    ['1.0', '1.0'], ['1.0~rc1', '1.0'], ['1.0', '1.0+b1'], ['1:0.9', '2.0'], ['2.30', '2.4'], ['1.0-1', '1.0-1+deb12u1'],
    ['1.0a', '1.0+'], ['0010', '9'], ['1.0-1~bpo12+1', '1.0-1'], ['5.2.37-2+b10', '5.2.37-2+b9'], ['1.2.3', '1.2.3-0'], ['a', 'B'],
    ['1.0~~', '1.0~'], ['3.0-1', '3.0-1.1'], ['2:1', '1:9'], ['1.00', '1.0'], ['7.2+dfsg-7+deb12u18', '7.2+dfsg-7+deb12u2'],
  ];
  it('agrees with dpkg --compare-versions', async () => {
    for (const [a, b] of pairs) {
      const mine = Math.sign(compareDebianVersions(a, b));
      const lt = (await execa('dpkg', ['--compare-versions', a, 'lt', b], { reject: false })).exitCode === 0;
      const gt = (await execa('dpkg', ['--compare-versions', a, 'gt', b], { reject: false })).exitCode === 0;
      expect(mine, `${a} vs ${b}`).toBe(lt ? -1 : gt ? 1 : 0);
      expect(Math.sign(compareDebianVersions(b, a)), `${b} vs ${a}`).toBe(-mine || 0);
    }
  });
});

describe('diff of two builds', () => {
  const record = (version: string, packages: SbomPackage[], keys: [string, string]): BuildRecord => ({
    system: 'demo-efi-amd64', version, imageKey: keys.join('+'), layers: [{ name: 'debian-trixie', key: keys[0] }, { name: 'demo', key: keys[1] }], packages,
  });
  it('packages added, removed, upgraded and downgraded, in the layer that installs them; layers rebuilt', () => {
    const before = record('1.0.0', PACKAGES, ['k1', 'k2']);
    const after = record('1.1.0', [
      { ...PACKAGES[0]!, version: '13.8+deb13u1' },
      { ...PACKAGES[1]!, version: '2.41-11' },
      PACKAGES[2]!,
      { ...PACKAGES[3]!, name: 'demo-tool2' },
    ], ['k1', 'k3']);
    const d = diffBuilds(before, after);
    expect(d.identical).toBe(false);
    expect(d.layers).toEqual([
      { layer: 'debian-trixie', rebuilt: false, added: [], removed: [], upgraded: [{ name: 'base-files', architecture: 'amd64', from: '13.8', to: '13.8+deb13u1' }], downgraded: [{ name: 'libc6', architecture: 'amd64', from: '2.41-12', to: '2.41-11' }] },
      { layer: 'demo', rebuilt: true, added: [{ name: 'demo-tool2', architecture: 'all', to: '1.0+b1' }], removed: [{ name: 'demo-tool', architecture: 'all', from: '1.0+b1' }], upgraded: [], downgraded: [] },
    ]);
    expect(diffLines([d])).toBe([
      'demo-efi-amd64: 1.0.0 → 1.1.0',
      '  layer debian-trixie: same, 2 package changes',
      '    ↑ base-files:amd64 13.8 → 13.8+deb13u1',
      '    ↓ libc6:amd64 2.41-12 → 2.41-11',
      '  layer demo: rebuilt, 2 package changes',
      '    + demo-tool2:all 1.0+b1',
      '    - demo-tool:all 1.0+b1',
      '  (files not compared: a build without a file list)',
      '',
    ].join('\n'));
    expect(diffBuilds(before, before).identical).toBe(true);
  });
});

describe('file records', () => {
  const nul = (...records: string[][]) => Buffer.from(records.flat().map((f) => `${f}\0`).join(''));
  const sums = (...pairs: [string, string][]) => Buffer.from(pairs.map(([sha, p]) => `${sha}  ./${p}\0`).join(''));

  it('parses what the worker lists: entries with content hashes, whiteouts, opaque directories', () => {
    const files = parseManifest(
      nul(['E', 'f', '644', '0', '0', '2', 'sp ace', ''], ['E', 'l', '777', '0', '0', '1', 'link', 'a'], ['W', 'y'], ['O', 'd']),
      sums([SHA('1'), 'sp ace']),
    );
    expect(files).toEqual({
      entries: [
        { path: 'link', type: 'l', mode: '777', uid: 0, gid: 0, size: 0, target: 'a' },
        { path: 'sp ace', type: 'f', mode: '644', uid: 0, gid: 0, size: 2, sha256: SHA('1') },
      ],
      whiteouts: ['y'],
      opaque: ['d'],
    });
    expect(() => parseManifest(nul(['X', 'y']), Buffer.alloc(0))).toThrow(/unexpected record/);
  });

  it('merges snapshots as overlayfs does, each file attributed to the layer that last wrote it', async () => {
    const cache = new LayerCache(path.join(tmp, 'files-cache'));
    await cache.init();
    const f = (p: string, sha: string) => ['E', 'f', '644', '0', '0', '1', p, ''];
    const d = (p: string) => ['E', 'd', '755', '0', '0', '4096', p, ''];
    await recordFiles(cache, 'bootstrap', parseManifest(nul(d('etc'), f('etc/a', '1'), d('usr'), d('usr/doc'), f('usr/doc/x', '2'), f('usr/doc/y', '3'), d('opt'), f('opt/old', '4')), sums([SHA('1'), 'etc/a'], [SHA('2'), 'usr/doc/x'], [SHA('3'), 'usr/doc/y'], [SHA('4'), 'opt/old'])));
    await recordFiles(cache, 'recipe', parseManifest(nul(d('etc'), f('etc/b', '5'), ['W', 'usr/doc/x'], d('opt'), ['O', 'opt'], f('opt/new', '6')), sums([SHA('5'), 'etc/b'], [SHA('6'), 'opt/new'])));
    await recordFiles(cache, 'top', parseManifest(nul(['W', 'usr/doc'], f('etc/a', '7')), sums([SHA('7'), 'etc/a'])));
    const files = await systemFiles(cache, [{ layer: 'base', snapshots: ['bootstrap'] }, { layer: 'product', snapshots: ['recipe', 'top'] }]);
    expect(files!.map((x: LayerFile) => `${x.path}@${x.layer}${x.sha256 ? `#${x.sha256[0]}` : ''}`)).toEqual([
      'etc@base', 'etc/a@product#7', 'etc/b@product#5', 'opt@base', 'opt/new@product#6', 'usr@base',
    ]);
    expect(await systemFiles(cache, [{ layer: 'base', snapshots: ['bootstrap', 'missing'] }])).toBeUndefined();
  });

  it('diff: files added, removed and changed, in the layer that last wrote them', () => {
    const file = (p: string, sha: string, layer: string): LayerFile => ({ path: p, type: 'f', mode: '644', uid: 0, gid: 0, size: 1, sha256: SHA(sha), layer });
    const base = { system: 's', version: '1', imageKey: 'k', layers: [{ name: 'debian-trixie', key: 'a' }, { name: 'demo', key: 'b' }], packages: [] };
    const d = diffBuilds(
      { ...base, fileList: [file('etc/a', '1', 'debian-trixie'), file('usr/bin/app', '2', 'demo'), file('etc/gone', '3', 'demo')] },
      { ...base, imageKey: 'k2', layers: [{ name: 'debian-trixie', key: 'a' }, { name: 'demo', key: 'c' }], fileList: [file('etc/a', '1', 'debian-trixie'), file('usr/bin/app', '9', 'demo'), file('usr/bin/new', '4', 'demo')] },
    );
    expect(d.layers.map((l) => [l.layer, l.files])).toEqual([
      ['debian-trixie', { added: [], removed: [], changed: [] }],
      ['demo', { added: ['usr/bin/new'], removed: ['etc/gone'], changed: ['usr/bin/app'] }],
    ]);
    expect(diffLines([d])).toContain('  layer demo: rebuilt, 3 files changed\n    + /usr/bin/new\n    - /etc/gone\n    ~ /usr/bin/app\n');
  });
});

describe('package lock', () => {
  const entry = lockEntry('amd64', ['debian-trixie', 'demo'], PACKAGES);

  it('is written one package per line, read back, other systems kept', async () => {
    const project = path.join(tmp, 'project');
    const cache = new LayerCache(path.join(tmp, 'cache'));
    await cache.init();
    await mkdir(project);
    await writeLockEntry(project, cache, 'demo-efi-amd64', entry);
    await writeLockEntry(project, cache, 'other', lockEntry('arm64', ['x'], []));
    const text = await readFile(path.join(project, 'bakery.lock'), 'utf8');
    expect(text).toContain('\n            {"name":"libc6","architecture":"amd64","version":"2.41-12","source":"glibc","sha256":"bbbb');
    expect((await readLock(project))!.systems['demo-efi-amd64']).toEqual(entry);
    expect(Object.keys((await readLock(project))!.systems)).toEqual(['demo-efi-amd64', 'other']);
    await expect(lockedSystem(project, 'missing')).rejects.toThrow(/has no entry for system missing/);
    await expect(lockedSystem(path.join(tmp, 'nowhere'), 'x')).rejects.toThrow(/bakery.lock does not exist/);
    await writeFile(path.join(project, 'bakery.lock'), '{ broken');
    await expect(readLock(project)).rejects.toThrow(/bakery.lock: not valid JSON/);
  });

  it('a changed version, a changed .deb, a new or a missing package: each named', () => {
    expect(lockMismatches(entry, PACKAGES)).toEqual([]);
    const built = [{ ...PACKAGES[0]!, version: '13.9' }, { ...PACKAGES[1]!, sha256: SHA('9') }, PACKAGES[2]!, { ...PACKAGES[3]!, name: 'new-tool' }];
    const drift = lockMismatches(entry, built);
    expect(drift.map((d) => d.name)).toEqual(['base-files', 'libc6', 'demo-tool', 'new-tool']);
    expect(() => refuseDrift('the built layers hold other packages', drift, tmp)).toThrow(/base-files:amd64 \(layer debian-trixie\): locked 13\.8, now 13\.9[\s\S]*demo-tool:all 1\.0\+b1 \(layer demo\): no longer there[\s\S]*new-tool:all 1\.0\+b1: not in the lock/);
  });

  it('the mirror\'s index: versions offered now against the lock, for the layers to build only', () => {
    const offered = parseMirrorIndex('base-files\t13.9\tamd64\nlibc6\t2.41-12\tamd64\ndemo-tool\t1.1\tall\n');
    expect(mirrorDrift(entry, ['debian-trixie', 'demo'], offered).map((d) => `${d.name} ${d.locked}→${d.found}`)).toEqual(['base-files 13.8→13.9', 'demo-tool 1.0+b1→1.1']);
    expect(mirrorDrift(entry, ['demo'], offered).map((d) => d.name)).toEqual(['demo-tool']);
  });
});
