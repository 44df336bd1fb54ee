/**
 * Software bills of materials for an image or a bundle: SPDX 2.3 and CycloneDX 1.6 JSON, made
 * from the system's package record. The same inputs give the same bytes: the time is the build's
 * SOURCE_DATE_EPOCH and the identifiers derive from the subject's checksum.
 */
import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { bakeryVersion } from '../util/paths.js';
import { purl, type InstalledPackage } from './packages.js';

/** What the SBOM describes: an output file and the system it was made for. */
export interface SbomSubject {
  /** The file's name as shipped (`system.img`, `system.raucb`). */
  file: string;
  sha256: string;
  kind: 'image' | 'bundle';
  system: string;
  version: string;
  architecture: string;
  sourceDateEpoch: number;
}

export type SbomPackage = InstalledPackage & { layer: string };

/**
 * Debian's license short names (copyright-format 1.0) as SPDX identifiers. Names outside this
 * table become `LicenseRef-debian-…` (SPDX) or a named license (CycloneDX), never a guess.
 */
const SPDX_IDS: Record<string, string> = {
  'gpl-1': 'GPL-1.0-only', 'gpl-1+': 'GPL-1.0-or-later', 'gpl-2': 'GPL-2.0-only', 'gpl-2+': 'GPL-2.0-or-later',
  'gpl-3': 'GPL-3.0-only', 'gpl-3+': 'GPL-3.0-or-later', 'lgpl-2': 'LGPL-2.0-only', 'lgpl-2+': 'LGPL-2.0-or-later',
  'lgpl-2.1': 'LGPL-2.1-only', 'lgpl-2.1+': 'LGPL-2.1-or-later', 'lgpl-3': 'LGPL-3.0-only', 'lgpl-3+': 'LGPL-3.0-or-later',
  'agpl-3': 'AGPL-3.0-only', 'agpl-3+': 'AGPL-3.0-or-later', 'gfdl-1.2': 'GFDL-1.2-only', 'gfdl-1.2+': 'GFDL-1.2-or-later',
  'gfdl-1.3': 'GFDL-1.3-only', 'gfdl-1.3+': 'GFDL-1.3-or-later', 'apache-2.0': 'Apache-2.0', 'apache-2': 'Apache-2.0',
  expat: 'MIT', mit: 'MIT', 'bsd-2-clause': 'BSD-2-Clause', 'bsd-3-clause': 'BSD-3-Clause', 'bsd-4-clause': 'BSD-4-Clause',
  isc: 'ISC', zlib: 'Zlib', 'mpl-1.1': 'MPL-1.1', 'mpl-2.0': 'MPL-2.0', 'cc0-1.0': 'CC0-1.0', cc0: 'CC0-1.0',
  artistic: 'Artistic-1.0-Perl', 'artistic-2.0': 'Artistic-2.0', openssl: 'OpenSSL', 'psf-2': 'PSF-2.0', fsfap: 'FSFAP',
  fsful: 'FSFUL', fsfullr: 'FSFULLR', x11: 'X11', curl: 'curl', 'bsl-1.0': 'BSL-1.0', 'ofl-1.1': 'OFL-1.1', 'sil-1.1': 'OFL-1.1',
  'sil-ofl-1.1': 'OFL-1.1', unlicense: 'Unlicense', wtfpl: 'WTFPL', '0bsd': '0BSD', postgresql: 'PostgreSQL',
  'cc-by-3.0': 'CC-BY-3.0', 'cc-by-4.0': 'CC-BY-4.0', 'cc-by-sa-3.0': 'CC-BY-SA-3.0', 'cc-by-sa-4.0': 'CC-BY-SA-4.0',
  'epl-1.0': 'EPL-1.0', 'epl-2.0': 'EPL-2.0', 'cddl-1.0': 'CDDL-1.0', 'ncsa': 'NCSA', libtiff: 'libtiff', 'bzip2-1.0.6': 'bzip2-1.0.6',
};

export interface License {
  /** An SPDX identifier, when Debian's name maps to one. */
  id?: string;
  /** Debian's name (for licenses without an SPDX identifier). */
  name: string;
}

/** The licenses a package states: each License field split at "and"/"or", mapped, deduplicated. */
export function packageLicenses(p: InstalledPackage): License[] {
  const seen = new Map<string, License>();
  for (const field of p.licenses) {
    for (const raw of field.split(/\s+(?:and|or)\s+|\s*,\s*/i)) {
      const name = raw.trim().replace(/^\(|\)$/g, '');
      if (!name) continue;
      const id = SPDX_IDS[name.toLowerCase()];
      seen.set(id ?? `?${name}`, id ? { id, name } : { name });
    }
  }
  return [...seen.values()].sort((a, b) => (a.id ?? a.name).localeCompare(b.id ?? b.name));
}

/** An SPDX LicenseRef for a license with no SPDX identifier. */
function licenseRef(name: string): string {
  return `LicenseRef-debian-${name.replace(/[^A-Za-z0-9.]+/g, '-').replace(/^-+|-+$/g, '') || 'unnamed'}`;
}

/** A name-based UUID (version 5 layout) from the subject: the same subject, the same identifier. */
function subjectUuid(subject: SbomSubject, format: string): string {
  const h = createHash('sha256').update(`${format}\0${subject.kind}\0${subject.file}\0${subject.sha256}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function timestamp(subject: SbomSubject): string {
  return new Date(subject.sourceDateEpoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function spdxId(p: InstalledPackage): string {
  return `SPDXRef-deb-${`${p.name}-${p.architecture}`.replace(/[^A-Za-z0-9.-]/g, '-')}`;
}

function describeSubject(subject: SbomSubject): string {
  return subject.kind === 'image'
    ? `provisioning image of ${subject.system} ${subject.version} (${subject.architecture}); the packages are those of its root filesystem (slot A)`
    : `update bundle of ${subject.system} ${subject.version} (${subject.architecture}); the packages are those of the root filesystem image it installs`;
}

export function spdxDocument(subject: SbomSubject, packages: SbomPackage[]): object {
  const refs = new Map<string, string>();
  const debs = packages.map((p) => {
    const licenses = packageLicenses(p);
    for (const l of licenses) if (!l.id) refs.set(licenseRef(l.name), l.name);
    const declared = licenses.length ? licenses.map((l) => l.id ?? licenseRef(l.name)).join(' AND ') : 'NOASSERTION';
    return {
      name: p.name,
      SPDXID: spdxId(p),
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      ...(p.sha256 ? { checksums: [{ algorithm: 'SHA256', checksumValue: p.sha256 }] } : {}),
      sourceInfo: `built from Debian source package ${p.source} ${p.sourceVersion}`,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: declared,
      copyrightText: 'NOASSERTION',
      comment: `installed by layer ${p.layer}`,
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl(p) }],
      primaryPackagePurpose: 'INSTALL',
    };
  });
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${subject.system}-${subject.version}-${subject.file}`,
    documentNamespace: `urn:uuid:${subjectUuid(subject, 'spdx')}`,
    creationInfo: { created: timestamp(subject), creators: [`Tool: bakery-${bakeryVersion()}`] },
    packages: [
      {
        name: subject.file,
        SPDXID: 'SPDXRef-subject',
        versionInfo: subject.version,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        checksums: [{ algorithm: 'SHA256', checksumValue: subject.sha256 }],
        licenseConcluded: 'NOASSERTION',
        licenseDeclared: 'NOASSERTION',
        copyrightText: 'NOASSERTION',
        description: describeSubject(subject),
        primaryPackagePurpose: subject.kind === 'image' ? 'OPERATING-SYSTEM' : 'ARCHIVE',
      },
      ...debs,
    ],
    ...(refs.size
      ? {
          hasExtractedLicensingInfos: [...refs].sort(([a], [b]) => a.localeCompare(b)).map(([licenseId, name]) => ({
            licenseId,
            name,
            extractedText: `The license Debian's machine-readable copyright files name "${name}"; its text is in each package's /usr/share/doc/<package>/copyright.`,
          })),
        }
      : {}),
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: 'SPDXRef-subject' },
      ...debs.map((d) => ({ spdxElementId: 'SPDXRef-subject', relationshipType: 'CONTAINS', relatedSpdxElement: d.SPDXID })),
    ],
  };
}

export function cycloneDxDocument(subject: SbomSubject, packages: SbomPackage[]): object {
  const components = packages.map((p) => {
    const licenses = packageLicenses(p);
    return {
      type: 'library',
      'bom-ref': purl(p),
      name: p.name,
      version: p.version,
      purl: purl(p),
      ...(p.sha256 ? { hashes: [{ alg: 'SHA-256', content: p.sha256 }] } : {}),
      ...(licenses.length ? { licenses: licenses.map((l) => ({ license: l.id ? { id: l.id } : { name: l.name } })) } : {}),
      properties: [
        { name: 'bakery:layer', value: p.layer },
        { name: 'bakery:source', value: `${p.source} ${p.sourceVersion}` },
      ],
    };
  });
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${subjectUuid(subject, 'cyclonedx')}`,
    version: 1,
    metadata: {
      timestamp: timestamp(subject),
      tools: { components: [{ type: 'application', name: 'bakery', version: bakeryVersion() }] },
      component: {
        type: subject.kind === 'image' ? 'operating-system' : 'file',
        'bom-ref': 'subject',
        name: subject.file,
        version: subject.version,
        description: describeSubject(subject),
        hashes: [{ alg: 'SHA-256', content: subject.sha256 }],
        properties: [
          { name: 'bakery:system', value: subject.system },
          { name: 'bakery:architecture', value: subject.architecture },
        ],
      },
    },
    components,
    dependencies: [{ ref: 'subject', dependsOn: components.map((c) => c['bom-ref']) }, ...components.map((c) => ({ ref: c['bom-ref'] }))],
  };
}

export interface SbomFiles {
  spdx: string;
  cyclonedx: string;
}

/** The SBOM file names beside an output: `<output>.spdx.json`, `<output>.cdx.json`. */
export function sbomPaths(output: string): SbomFiles {
  return { spdx: `${output}.spdx.json`, cyclonedx: `${output}.cdx.json` };
}

/** Writes both documents beside `output` (each complete under its final name, or not at all). */
export async function writeSboms(output: string, subject: SbomSubject, packages: SbomPackage[]): Promise<SbomFiles> {
  const paths = sbomPaths(output);
  for (const [file, doc] of [[paths.spdx, spdxDocument(subject, packages)], [paths.cyclonedx, cycloneDxDocument(subject, packages)]] as const) {
    const temp = `${file}.tmp-${process.pid}`;
    await writeFile(temp, `${JSON.stringify(doc, null, 2)}\n`);
    await rename(temp, file);
  }
  return paths;
}
