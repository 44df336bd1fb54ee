/**
 * Validators for the SBOMs bakery writes, from npm:
 * - CycloneDX: the CycloneDX project's own library validates against the official 1.6 JSON
 *   schema (strict: no unknown properties), SPDX license ids included;
 * - SPDX 2.3: npm has no validator of the whole document, so the spec's rules for what bakery
 *   writes are checked here, with the SPDX project's expression parser (spdx-expression-parse)
 *   for every license expression and packageurl-js for every purl.
 */
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import parseSpdxExpression from 'spdx-expression-parse';

/** The schema validator's complaints (empty: valid). */
export async function cycloneDxProblems(doc: unknown): Promise<string[]> {
  const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
  const errors = await validator.validate(JSON.stringify(doc));
  return errors === null ? [] : [JSON.stringify(errors).slice(0, 2000)];
}

const SPDX_ID = /^SPDXRef-[A-Za-z0-9.-]+$/;
const CHECKSUM_LENGTH: Record<string, number> = { SHA1: 40, SHA256: 64, SHA512: 128, MD5: 32 };
const PURPOSES = ['APPLICATION', 'FRAMEWORK', 'LIBRARY', 'CONTAINER', 'OPERATING-SYSTEM', 'DEVICE', 'FIRMWARE', 'SOURCE', 'ARCHIVE', 'FILE', 'INSTALL', 'OTHER'];
const REF_CATEGORIES = ['SECURITY', 'PACKAGE-MANAGER', 'PERSISTENT-ID', 'OTHER'];
const RELATIONSHIPS = ['DESCRIBES', 'DESCRIBED_BY', 'CONTAINS', 'CONTAINED_BY', 'DEPENDS_ON', 'DEPENDENCY_OF', 'GENERATED_FROM', 'GENERATES', 'OTHER'];

type Json = Record<string, unknown>;

/** SPDX 2.3 rules (spec chapters 6, 7, 10, 11) for the fields bakery writes; empty: valid. */
export function spdxProblems(doc: Json): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => ok || problems.push(what);
  need(doc.spdxVersion === 'SPDX-2.3', 'spdxVersion must be SPDX-2.3');
  need(doc.dataLicense === 'CC0-1.0', 'dataLicense must be CC0-1.0');
  need(doc.SPDXID === 'SPDXRef-DOCUMENT', 'the document\'s SPDXID must be SPDXRef-DOCUMENT');
  need(typeof doc.name === 'string' && doc.name.length > 0, 'the document needs a name');
  const ns = doc.documentNamespace;
  need(typeof ns === 'string' && /^[a-z][a-z0-9+.-]*:\S+$/i.test(ns) && !ns.includes('#'), `documentNamespace must be an absolute URI without "#": ${String(ns)}`);
  const creation = doc.creationInfo as Json | undefined;
  need(typeof creation?.created === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(creation.created), 'creationInfo.created must be YYYY-MM-DDThh:mm:ssZ');
  need(Array.isArray(creation?.creators) && (creation.creators as unknown[]).length > 0 && (creation.creators as string[]).every((c) => /^(Tool|Organization|Person): \S/.test(c)), 'creationInfo.creators: "Tool: …", "Organization: …" or "Person: …"');

  const extracted = new Set(((doc.hasExtractedLicensingInfos ?? []) as Json[]).map((e) => {
    need(typeof e.licenseId === 'string' && /^LicenseRef-[A-Za-z0-9.-]+$/.test(e.licenseId), `extracted license id ${String(e.licenseId)}`);
    need(typeof e.extractedText === 'string' && e.extractedText.length > 0, `extracted license ${String(e.licenseId)} needs extractedText`);
    return e.licenseId as string;
  }));
  const ids = new Set<string>(['SPDXRef-DOCUMENT']);
  const packages = (doc.packages ?? []) as Json[];
  need(packages.length > 0, 'no packages');
  for (const p of packages) {
    const where = `package ${String(p.name)}`;
    need(typeof p.SPDXID === 'string' && SPDX_ID.test(p.SPDXID), `${where}: SPDXID ${String(p.SPDXID)}`);
    need(!ids.has(p.SPDXID as string), `${where}: SPDXID ${String(p.SPDXID)} is not unique`);
    ids.add(p.SPDXID as string);
    need(typeof p.name === 'string' && p.name.length > 0, `${where}: name`);
    need(typeof p.downloadLocation === 'string' && (['NOASSERTION', 'NONE'].includes(p.downloadLocation) || /^\w+:\/\//.test(p.downloadLocation)), `${where}: downloadLocation`);
    need(p.filesAnalyzed === false || p.packageVerificationCode !== undefined, `${where}: files analyzed without a verification code`);
    for (const c of (p.checksums ?? []) as Json[]) {
      const length = CHECKSUM_LENGTH[c.algorithm as string];
      need(length !== undefined && typeof c.checksumValue === 'string' && new RegExp(`^[0-9a-f]{${length}}$`).test(c.checksumValue), `${where}: checksum ${JSON.stringify(c)}`);
    }
    for (const field of ['licenseConcluded', 'licenseDeclared'] as const) {
      const value = p[field];
      if (value === 'NOASSERTION' || value === 'NONE') continue;
      try {
        const refs = JSON.stringify(parseSpdxExpression(String(value))).match(/"license":"(LicenseRef-[^"]+)"/g) ?? [];
        for (const r of refs) need(extracted.has(r.slice(11, -1)), `${where}: ${field} uses ${r.slice(11, -1)}, which hasExtractedLicensingInfos does not define`);
      } catch (err) {
        problems.push(`${where}: ${field} ${JSON.stringify(value)} is not an SPDX license expression (${(err as Error).message})`);
      }
    }
    need(typeof p.copyrightText === 'string', `${where}: copyrightText`);
    if (p.primaryPackagePurpose !== undefined) need(PURPOSES.includes(p.primaryPackagePurpose as string), `${where}: primaryPackagePurpose ${String(p.primaryPackagePurpose)}`);
    for (const r of (p.externalRefs ?? []) as Json[]) {
      need(REF_CATEGORIES.includes(r.referenceCategory as string), `${where}: referenceCategory ${String(r.referenceCategory)}`);
      if (r.referenceType === 'purl') {
        try {
          PackageURL.fromString(String(r.referenceLocator));
        } catch (err) {
          problems.push(`${where}: purl ${String(r.referenceLocator)}: ${(err as Error).message}`);
        }
      }
    }
  }
  const relationships = (doc.relationships ?? []) as Json[];
  need(relationships.some((r) => r.spdxElementId === 'SPDXRef-DOCUMENT' && r.relationshipType === 'DESCRIBES'), 'the document DESCRIBES nothing');
  for (const r of relationships) {
    need(RELATIONSHIPS.includes(r.relationshipType as string), `relationship type ${String(r.relationshipType)}`);
    need(ids.has(r.spdxElementId as string) && ids.has(r.relatedSpdxElement as string), `relationship between unknown elements: ${JSON.stringify(r)}`);
  }
  return problems;
}
